import { expect } from 'chai';
import { cgroupCpuQuota, usableCores } from '../../server/cluster/cores';

/** A reader over these files only. */
const files = (f: Record<string, string>) => (path: string) => f[path];

describe('WORKERS by default: the cores this process may use, within its cgroup CPU quota', () => {
  it("reads cgroup v2's cpu.max at the process's own cgroup, rounding a part core up", () => {
    const read = files({
      '/proc/self/cgroup': '0::/svc/ankang\n',
      '/sys/fs/cgroup/svc/ankang/cpu.max': '150000 100000\n',
    });
    expect(cgroupCpuQuota(read)).to.equal(2);
    expect(usableCores(read, 16)).to.equal(2);
  });

  it("reads the mount's root in a cgroup namespace, and 'max' is no quota", () => {
    expect(
      cgroupCpuQuota(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '400000 100000' })),
    ).to.equal(4);
    const none = files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'max 100000' });
    expect(cgroupCpuQuota(none)).to.equal(undefined);
    expect(usableCores(none, 8)).to.equal(8);
  });

  it("reads cgroup v1's cfs quota over its period; -1 is no quota; a quota under one core is one", () => {
    const v1 = (quota: string) =>
      files({
        '/proc/self/cgroup': '4:memory:/x\n3:cpu,cpuacct:/docker/abc\n',
        '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': quota,
        '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
      });
    expect(cgroupCpuQuota(v1('300000\n'))).to.equal(3);
    expect(cgroupCpuQuota(v1('-1\n'))).to.equal(undefined);
    expect(cgroupCpuQuota(v1('20000'))).to.equal(1);
    expect(usableCores(v1('300000'), 2), 'never more than the cores it may run on').to.equal(2);
  });

  it('is the cores it may run on when no cgroup file can be read', () => {
    expect(cgroupCpuQuota(files({}))).to.equal(undefined);
    expect(usableCores(files({}), 6)).to.equal(6);
  });
});
