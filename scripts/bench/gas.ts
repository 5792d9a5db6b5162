import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import hre from 'hardhat';
import type { Contract } from 'ethers';
import { CompactRange, consistencyProofForAppend, hashLeaf, sizeProofForAppend } from '../../verifier/src/merkle';

const ISSUER = 340000;
/** Tree sizes anchored one after another: +1,000 and +100,000 events at several log sizes. */
const SIZES = [1_000, 2_000, 100_000, 200_000, 1_000_000, 1_001_000, 1_101_000];
/**
 * The registry before checkpoints carried size proofs and before the council governed it:
 * contracts/AnchorRegistry.sol and IAnchorRegistry.sol as of commit 40fc9ed, byte for byte,
 * compiled here with the same solc and settings as hardhat.config.ts so that both are
 * measured in the same run.
 */
const BASELINE_DIR = join(__dirname, 'baseline');

export interface GasRow {
  from: number;
  to: number;
  /** Hashes of the consistency proof. */
  proofHashes: number;
  /** Hashes of the size proof (the new registry only). */
  sizeProofHashes: number;
  /** gasUsed of `anchor` on the registry before size proofs (baseline) and now. */
  before: number;
  after: number;
}

/** 32 bytes of leaf data (an event hash in the real log): the index, big-endian, at the end. */
function syntheticData(i: number): Uint8Array {
  const data = new Uint8Array(32);
  new DataView(data.buffer).setBigUint64(24, BigInt(i));
  return data;
}

/** The baseline registry's ABI and bytecode, compiled from BASELINE_DIR with the `solc` package. */
function compileBaseline(): { abi: unknown[]; bytecode: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require('solc') as { compile(input: string, callbacks: { import(path: string): { contents: string } | { error: string } }): string };
  const settings = hre.config.solidity.compilers[0].settings as object;
  const input = {
    language: 'Solidity',
    sources: {
      'AnchorRegistry.sol': { content: readFileSync(join(BASELINE_DIR, 'AnchorRegistry.sol'), 'utf8') },
      'IAnchorRegistry.sol': { content: readFileSync(join(BASELINE_DIR, 'IAnchorRegistry.sol'), 'utf8') },
    },
    settings: { ...settings, outputSelection: { 'AnchorRegistry.sol': { AnchorRegistry: ['abi', 'evm.bytecode.object'] } } },
  };
  const modules = dirname(require.resolve('@openzeppelin/contracts/package.json'));
  const out = JSON.parse(
    solc.compile(JSON.stringify(input), {
      import: (path) => {
        try {
          return { contents: readFileSync(path.startsWith('@openzeppelin/contracts/') ? join(modules, path.slice('@openzeppelin/contracts/'.length)) : join(BASELINE_DIR, path), 'utf8') };
        } catch {
          return { error: `not found: ${path}` };
        }
      },
    }),
  ) as { errors?: Array<{ severity: string; formattedMessage: string }>; contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>> };
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(`baseline registry does not compile:\n${errors.map((e) => e.formattedMessage).join('\n')}`);
  const c = out.contracts['AnchorRegistry.sol'].AnchorRegistry;
  return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
}

/**
 * Anchors a log growing through `SIZES` on the in-process Hardhat network, on the baseline
 * registry and on the current one, and records the gasUsed (transaction total, intrinsic gas
 * and calldata included) of each `anchor` call. Roots come from a CompactRange and both proofs
 * from the compact range plus the appended leaves, so the old leaves are never held.
 */
export async function measureAnchorGas(): Promise<GasRow[]> {
  await hre.run('compile', { quiet: true });
  const [governor, anchorer] = await hre.ethers.getSigners();
  const { abi, bytecode } = compileBaseline();
  const baseline = (await new hre.ethers.ContractFactory(abi as never, bytecode, governor).deploy()) as unknown as Contract;
  await (await baseline.getFunction('registerIssuer')(ISSUER, 'bench', '', [anchorer.address])).wait();
  // The current registry, with a plain account as its governor: governance does not touch anchor's gas.
  const current = (await hre.ethers.deployContract('AnchorRegistry', [governor.address])) as unknown as Contract;
  await (await current.getFunction('registerIssuer')(ISSUER, 'bench', '', anchorer.address)).wait();
  const before = baseline.connect(anchorer).getFunction('anchor');
  const after = current.connect(anchorer).getFunction('anchor');
  const hex = (hs: Uint8Array[]) => hs.map((h) => hre.ethers.hexlify(h));

  const range = new CompactRange();
  const rows: GasRow[] = [];
  for (const to of SIZES) {
    const from = range.size;
    const data = Array.from({ length: to - from }, (_, k) => syntheticData(from + k));
    const appended = data.map(hashLeaf);
    const proof = from === 0 ? [] : hex(consistencyProofForAppend(range, appended));
    const sizeProof = hex(sizeProofForAppend(from, data));
    for (const leaf of appended) range.append(leaf);
    const root = hre.ethers.hexlify(range.root());
    const b = await (await before(ISSUER, to, root, proof)).wait();
    const a = await (await after(ISSUER, to, root, proof, sizeProof)).wait();
    rows.push({ from, to, proofHashes: proof.length, sizeProofHashes: sizeProof.length, before: Number(b!.gasUsed), after: Number(a!.gasUsed) });
  }
  return rows;
}

/**
 * Gas of `anchor` per checkpoint, keyed `anchor <from>-><to>` (with ` before` for the baseline
 * registry), plus the gas per anchored event at 1,000 and at 100,000 events per checkpoint
 * (keyed `per event @<n>/checkpoint`, measured on the 1,000 -> 2,000 and 100,000 -> 200,000
 * checkpoints) and over the 1,000,000 -> 1,001,000 one, where the log is large.
 */
export async function benchGas(): Promise<Record<string, number>> {
  const rows = await measureAnchorGas();
  const out: Record<string, number> = {};
  for (const r of rows) {
    out[`anchor ${r.from}->${r.to} before`] = r.before;
    out[`anchor ${r.from}->${r.to}`] = r.after;
  }
  const perEvent = (from: number, to: number, which: 'before' | 'after') => rows.find((r) => r.from === from && r.to === to)![which] / (to - from);
  const figures: Array<[string, number, number]> = [
    ['per event @1000/checkpoint', 1_000, 2_000],
    ['per event @1000/checkpoint, 1M-event log', 1_000_000, 1_001_000],
    ['per event @100000/checkpoint', 100_000, 200_000],
  ];
  for (const [name, from, to] of figures) {
    out[`${name} before`] = perEvent(from, to, 'before');
    out[name] = perEvent(from, to, 'after');
  }
  return out;
}

function formatTable(rows: GasRow[]): string {
  const n = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 2 });
  const lines = [
    '| checkpoint | events | proof hashes | size proof hashes | gasUsed before | gasUsed after | gas/event before | gas/event after |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => {
      const label = r.from === 0 ? `first (${n(r.to)} leaves)` : `${n(r.from)} -> ${n(r.to)}`;
      const events = r.to - r.from;
      return `| ${label} | ${n(events)} | ${r.proofHashes} | ${r.sizeProofHashes} | ${n(r.before)} | ${n(r.after)} | ${n(r.before / events)} | ${n(r.after / events)} |`;
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
