import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Reads a file's text, or undefined when it cannot be read. */
export type ReadText = (path: string) => string | undefined;

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** Whole cores a quota of `quota` µs per `period` µs amounts to (rounded up); undefined for no quota. */
function cores(quota: number, period: number): number | undefined {
  if (!(quota > 0) || !(period > 0)) return undefined;
  return Math.max(1, Math.ceil(quota / period));
}

/**
 * The CPU quota of this process's cgroup, in whole cores (rounded up), or undefined when it has
 * none: cgroup v2's `cpu.max` ("max 100000", "150000 100000"), else v1's `cpu.cfs_quota_us`
 * (-1 for none) over `cpu.cfs_period_us`, each at the process's own cgroup (from
 * /proc/self/cgroup) or the mount's root (a container's cgroup namespace).
 */
export function cgroupCpuQuota(read: ReadText = readText): number | undefined {
  const lines = (read('/proc/self/cgroup') ?? '').split('\n');
  /** `root` joined with a cgroup's path from /proc/self/cgroup ('/' is the root itself). */
  const under = (root: string, path = '/') => (path === '/' ? root : `${root}${path}`);
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3);
  for (const dir of new Set([under('/sys/fs/cgroup', v2), '/sys/fs/cgroup'])) {
    const max = read(`${dir}/cpu.max`)?.trim().split(/\s+/);
    if (max?.length === 2) return max[0] === 'max' ? undefined : cores(Number(max[0]), Number(max[1]));
  }
  const v1 = lines.map((l) => l.split(':')).find(([, controllers]) => controllers?.split(',').includes('cpu'))?.[2];
  for (const mount of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct'])
    for (const dir of new Set([under(mount, v1), mount])) {
      const quota = read(`${dir}/cpu.cfs_quota_us`);
      const period = read(`${dir}/cpu.cfs_period_us`);
      if (quota !== undefined && period !== undefined) return cores(Number(quota), Number(period));
    }
  return undefined;
}

/** The cores this process may use: the ones it may run on (`availableParallelism`), capped by its cgroup's CPU quota. */
export function usableCores(read: ReadText = readText, parallelism = availableParallelism()): number {
  return Math.min(parallelism, cgroupCpuQuota(read) ?? parallelism);
}
