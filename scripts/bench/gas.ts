import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import hre from 'hardhat';
import type { Contract } from 'ethers';
import { CompactRange, consistencyProofForAppend, hashLeaf, sizeProofForAppend } from '../../verifier/src/merkle';

const ISSUER = 340000;
/** Tree sizes anchored one after another: +1,000 and +100,000 events at several log sizes. */
const SIZES = [1_000, 2_000, 100_000, 200_000, 1_000_000, 1_001_000, 1_101_000];
/**
 * Earlier registries, read from this repository's history and compiled here with the same solc
 * and settings as hardhat.config.ts, so that all are measured in the same run on the same log
 * (the bench runs from a git checkout):
 * - before checkpoints carried size proofs and before the council governed it (40fc9ed);
 * - with size proofs, before checkpoints committed to a map root and witnesses cosigned them (fa7f28a).
 */
const BASELINE = { rev: '40fc9ed', files: ['AnchorRegistry.sol', 'IAnchorRegistry.sol'] };
const BASELINE_MAP = { rev: 'fa7f28a', files: ['AnchorRegistry.sol', 'IAnchorRegistry.sol', 'CheckpointProofs.sol'] };
const ROOT = join(__dirname, '..', '..');

/** The contract sources of `files` as of commit `rev`. @throws Error outside a git checkout with that commit */
function sourcesAt(rev: string, files: string[]): Record<string, string> {
  try {
    return Object.fromEntries(
      files.map((f) => [f, execFileSync('git', ['show', `${rev}:contracts/${f}`], { cwd: ROOT, encoding: 'utf8' })]),
    );
  } catch (e) {
    throw new Error(
      `the gas bench compiles the registries of commits ${BASELINE.rev} and ${BASELINE_MAP.rev} from git history, which this checkout lacks (${(e as Error).message.split('\n')[0]})`,
    );
  }
}

export interface GasRow {
  from: number;
  to: number;
  /** Hashes of the consistency proof. */
  proofHashes: number;
  /** Hashes of the size proof (the registries since 40fc9ed). */
  sizeProofHashes: number;
  /** gasUsed of `anchor` on the registry before size proofs (40fc9ed), before map roots (fa7f28a), and now. */
  before: number;
  beforeMap: number;
  after: number;
  /** gasUsed of `cosign` by the checkpoint's first witness and by its second. */
  cosignFirst: number;
  cosignSecond: number;
}

/** 32 bytes of leaf data (an event hash in the real log): the index, big-endian, at the end. */
function syntheticData(i: number): Uint8Array {
  const data = new Uint8Array(32);
  new DataView(data.buffer).setBigUint64(24, BigInt(i));
  return data;
}

/** A baseline registry's ABI and bytecode, compiled from its sources with the `solc` package. */
function compileBaseline(baseline: { rev: string; files: string[] }): { abi: unknown[]; bytecode: string } {
  const sources = sourcesAt(baseline.rev, baseline.files);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require('solc') as {
    compile(input: string, callbacks: { import(path: string): { contents: string } | { error: string } }): string;
  };
  const settings = hre.config.solidity.compilers[0].settings as object;
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries(Object.entries(sources).map(([f, content]) => [f, { content }])),
    settings: {
      ...settings,
      outputSelection: { 'AnchorRegistry.sol': { AnchorRegistry: ['abi', 'evm.bytecode.object'] } },
    },
  };
  const modules = dirname(require.resolve('@openzeppelin/contracts/package.json'));
  const out = JSON.parse(
    solc.compile(JSON.stringify(input), {
      import: (path) => {
        try {
          if (path.startsWith('@openzeppelin/contracts/'))
            return { contents: readFileSync(join(modules, path.slice('@openzeppelin/contracts/'.length)), 'utf8') };
          const own = sources[path.replace(/^\.\//, '')];
          return own === undefined ? { error: `not found: ${path}` } : { contents: own };
        } catch {
          return { error: `not found: ${path}` };
        }
      },
    }),
  ) as {
    errors?: Array<{ severity: string; formattedMessage: string }>;
    contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length)
    throw new Error(
      `the registry of ${baseline.rev} does not compile:\n${errors.map((e) => e.formattedMessage).join('\n')}`,
    );
  const c = out.contracts['AnchorRegistry.sol'].AnchorRegistry;
  return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
}

/**
 * Anchors a log growing through `SIZES` on the in-process Hardhat network, on the two baseline
 * registries and on the current one, and records the gasUsed (transaction total, intrinsic gas
 * and calldata included) of each `anchor` call; on the current registry two witnesses then
 * cosign each checkpoint, and the gasUsed of each `cosign` is recorded. Roots come from a
 * CompactRange and both proofs from the compact range plus the appended leaves, so the old
 * leaves are never held. Map roots are random: the contract stores them and checks nothing.
 */
export async function measureAnchorGas(): Promise<GasRow[]> {
  await hre.run('compile', { quiet: true });
  const [governor, anchorer, witnessA, witnessB] = await hre.ethers.getSigners();
  const deploy = async (baseline: { rev: string; files: string[] }, ...args: unknown[]) => {
    const { abi, bytecode } = compileBaseline(baseline);
    return (await new hre.ethers.ContractFactory(abi as never, bytecode, governor).deploy(
      ...args,
    )) as unknown as Contract;
  };
  const baseline = await deploy(BASELINE);
  await (await baseline.getFunction('registerIssuer')(ISSUER, 'bench', '', [anchorer.address])).wait();
  const baselineMap = await deploy(BASELINE_MAP, governor.address);
  await (await baselineMap.getFunction('registerIssuer')(ISSUER, 'bench', '', anchorer.address)).wait();
  // The current registry, with a plain account as its governor: governance does not touch anchor's or cosign's gas.
  const current = (await hre.ethers.deployContract('AnchorRegistry', [governor.address])) as unknown as Contract;
  await (await current.getFunction('registerIssuer')(ISSUER, 'bench', '', anchorer.address)).wait();
  for (const [i, w] of [witnessA, witnessB].entries())
    await (await current.getFunction('registerWitness')(w.address, 0, `witness ${i + 1}`)).wait();
  await (await current.getFunction('setWitnessThreshold')(2)).wait();
  const before = baseline.connect(anchorer).getFunction('anchor');
  const beforeMap = baselineMap.connect(anchorer).getFunction('anchor');
  const after = current.connect(anchorer).getFunction('anchor');
  const cosign = (w: typeof witnessA) => current.connect(w).getFunction('cosign');
  const hex = (hs: Uint8Array[]) => hs.map((h) => hre.ethers.hexlify(h));

  const range = new CompactRange();
  const rows: GasRow[] = [];
  for (const [index, to] of SIZES.entries()) {
    const from = range.size;
    const data = Array.from({ length: to - from }, (_, k) => syntheticData(from + k));
    const appended = data.map(hashLeaf);
    const proof = from === 0 ? [] : hex(consistencyProofForAppend(range, appended));
    const sizeProof = hex(sizeProofForAppend(from, data));
    for (const leaf of appended) range.append(leaf);
    const root = hre.ethers.hexlify(range.root());
    const mapRoot = hre.ethers.hexlify(hre.ethers.randomBytes(32));
    const gas = async (tx: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>) =>
      Number((await (await tx).wait())!.gasUsed);
    rows.push({
      from,
      to,
      proofHashes: proof.length,
      sizeProofHashes: sizeProof.length,
      before: await gas(before(ISSUER, to, root, proof)),
      beforeMap: await gas(beforeMap(ISSUER, to, root, proof, sizeProof)),
      after: await gas(after(ISSUER, to, root, mapRoot, proof, sizeProof)),
      cosignFirst: await gas(cosign(witnessA)(ISSUER, index, to, root, mapRoot)),
      cosignSecond: await gas(cosign(witnessB)(ISSUER, index, to, root, mapRoot)),
    });
  }
  return rows;
}

/**
 * Gas per checkpoint, keyed `anchor <from>-><to>` (with ` before` for the registry of 40fc9ed
 * and ` before map` for that of fa7f28a), `cosign <from>-><to>` for a checkpoint's first
 * witness and `cosign <from>-><to> second` for its second, the gas per anchored event at 1,000
 * and at 100,000 events per checkpoint (keyed `per event @<n>/checkpoint`, measured on the
 * 1,000 -> 2,000 and 100,000 -> 200,000 checkpoints) and over the 1,000,000 -> 1,001,000 one,
 * where the log is large, and `witnessing per checkpoint, threshold 2`: both cosignatures.
 */
export async function benchGas(): Promise<Record<string, number>> {
  const rows = await measureAnchorGas();
  const out: Record<string, number> = {};
  for (const r of rows) {
    out[`anchor ${r.from}->${r.to} before`] = r.before;
    out[`anchor ${r.from}->${r.to} before map`] = r.beforeMap;
    out[`anchor ${r.from}->${r.to}`] = r.after;
    out[`cosign ${r.from}->${r.to}`] = r.cosignFirst;
    out[`cosign ${r.from}->${r.to} second`] = r.cosignSecond;
  }
  const perEvent = (from: number, to: number, which: 'before' | 'beforeMap' | 'after') =>
    rows.find((r) => r.from === from && r.to === to)![which] / (to - from);
  const figures: Array<[string, number, number]> = [
    ['per event @1000/checkpoint', 1_000, 2_000],
    ['per event @1000/checkpoint, 1M-event log', 1_000_000, 1_001_000],
    ['per event @100000/checkpoint', 100_000, 200_000],
  ];
  for (const [name, from, to] of figures) {
    out[`${name} before`] = perEvent(from, to, 'before');
    out[`${name} before map`] = perEvent(from, to, 'beforeMap');
    out[name] = perEvent(from, to, 'after');
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  out['cosign, mean'] = mean(rows.flatMap((r) => [r.cosignFirst, r.cosignSecond]));
  out['witnessing per checkpoint, threshold 2, mean'] = mean(rows.map((r) => r.cosignFirst + r.cosignSecond));
  out['map root per checkpoint, mean'] = mean(rows.map((r) => r.after - r.beforeMap));
  return out;
}

function formatTable(rows: GasRow[]): string {
  const n = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 2 });
  const lines = [
    '| checkpoint | events | size proof hashes | no size proof | size proof | + map root | cosign, 1st witness | cosign, 2nd witness | gas/event now |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => {
      const label = r.from === 0 ? `first (${n(r.to)} leaves)` : `${n(r.from)} -> ${n(r.to)}`;
      const events = r.to - r.from;
      return `| ${label} | ${n(events)} | ${r.sizeProofHashes} | ${n(r.before)} | ${n(r.beforeMap)} | ${n(r.after)} | ${n(r.cosignFirst)} | ${n(r.cosignSecond)} | ${n(r.after / events)} |`;
    }),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  measureAnchorGas()
    .then((rows) => console.log(formatTable(rows)))
    .catch((e) => {
      console.error(e);
      process.exitCode = 1;
    });
}
