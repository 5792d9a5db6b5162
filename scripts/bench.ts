import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fmt, heading, machineInfo, table } from './bench/util';

/**
 * `npm run bench [-- --only verify,anchor,map,gas,http,scans,lookups,status]`: runs the benchmarks, prints their tables and
 * writes the combined figures with the machine they ran on to .bench/latest.json.
 * Speed aims are ratios against baselines measured in the same run; nothing here fails a
 * build, and no timed assertion lives in the tests.
 */
// The log-extension ratio runs before the HTTP benchmarks, whose leftover heap and disk
// activity would otherwise slow the extension and not its bare-hash baseline.
const ALL = ['verify', 'anchor', 'map', 'gas', 'http', 'scans', 'lookups', 'status'] as const;
type BenchName = (typeof ALL)[number];

const ROOT = resolve(__dirname, '..');

function parseOnly(argv: string[]): BenchName[] {
  const i = argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
  if (i < 0) return [...ALL];
  const value = argv[i].includes('=') ? argv[i].slice('--only='.length) : argv[i + 1];
  const names = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(ALL as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length) {
    throw new Error(
      `--only takes a comma-separated subset of ${ALL.join(',')}${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}`,
    );
  }
  return ALL.filter((n) => names.includes(n));
}

function printFigures(title: string, result: object, unit: string): void {
  console.log(heading(title));
  const rows = Object.entries(result as Record<string, unknown>).map(([k, v]) => [
    k,
    typeof v === 'number' ? fmt(v, Number.isInteger(v) ? 0 : 2) : JSON.stringify(v),
  ]);
  console.log(table(['figure', unit], rows));
}

async function runGas(): Promise<unknown> {
  const result = await (await import('./bench/gas')).benchGas();
  printFigures(
    'gas (scripts/bench/gas.ts): AnchorRegistry.anchor and cosign on the in-process Hardhat network; "before" is the registry of commit 40fc9ed (no size proofs), "before map" that of fa7f28a (no map root, no witnesses)',
    result,
    'gas',
  );
  return result;
}

async function runAnchor(): Promise<unknown> {
  const result = await (await import('./bench/anchor')).benchAnchor();
  printFigures(
    `anchor (issue 4): extending the RFC 6962 log by ${fmt(result.leaves)} leaves in LevelDB vs as many bare SHA-256 hashes (aim: ratio ≤ 3)`,
    result,
    'value',
  );
  return result;
}

async function runMap(): Promise<unknown> {
  const result = await (await import('./bench/subject-map')).benchSubjectMap();
  printFigures(
    `map (issue 14): the subject heads map per appended event over ${fmt(result.subjects)} subjects, a checkpoint every ${fmt(result.checkpointEvents)} events`,
    result,
    'value',
  );
  return result;
}

async function main(): Promise<number> {
  const only = parseOnly(process.argv.slice(2));
  const machine = machineInfo();
  const started = Date.now();
  console.log(
    `Ankang bench — ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}, ${machine.date}`,
  );
  console.log(`running: ${only.join(', ')}`);

  const results: Record<string, unknown> = {};
  const seconds: Record<string, number> = {};
  let failed = false;
  for (const name of only) {
    const t0 = Date.now();
    try {
      if (name === 'verify') results.verify = await (await import('./bench/verify')).benchVerify();
      else if (name === 'http') results.http = await (await import('./bench/http')).benchHttp();
      else if (name === 'scans') results.scans = await (await import('./bench/http')).benchScans();
      else if (name === 'lookups') results.lookups = await (await import('./bench/lookups')).benchLookups();
      else if (name === 'anchor') results.anchor = await runAnchor();
      else if (name === 'map') results.map = await runMap();
      else if (name === 'status') results.status = await (await import('./bench/status-list')).benchStatusList();
      else results.gas = await runGas();
    } catch (e) {
      failed = true;
      const err = e as Error;
      results[name] = { error: err.message };
      console.error(`\n${name} bench failed: ${err.stack ?? err.message}`);
    }
    seconds[name] = Math.round((Date.now() - t0) / 100) / 10;
  }

  const report = {
    machine,
    only,
    seconds: { ...seconds, total: Math.round((Date.now() - started) / 100) / 10 },
    results,
  };
  const dir = join(ROOT, '.bench');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'latest.json');
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  console.log(heading('combined JSON'));
  console.log(JSON.stringify(report));
  console.log(
    `\nwritten to ${out} in ${report.seconds.total} s (${Object.entries(seconds)
      .map(([k, v]) => `${k} ${v} s`)
      .join(', ')})`,
  );
  return failed ? 1 : 0;
}

main().then(
  // Hardhat and LevelDB can leave handles open; the figures are written, so leave now.
  (code) => process.exit(code),
  (e) => {
    console.error((e as Error).message);
    process.exit(2);
  },
);
