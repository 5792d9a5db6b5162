import hre from 'hardhat';
import { CompactRange, consistencyProofForAppend, hashLeaf } from '../../verifier/src/merkle';

const ISSUER = 340000;
/** Tree sizes anchored one after another: +1,000 and +100,000 events at several log sizes. */
const SIZES = [1_000, 2_000, 100_000, 200_000, 1_000_000, 1_001_000, 1_101_000];

export interface GasRow {
  from: number;
  to: number;
  proofHashes: number;
  gasUsed: number;
}

function syntheticLeaf(i: number): Uint8Array {
  const data = new Uint8Array(8);
  new DataView(data.buffer).setBigUint64(0, BigInt(i));
  return hashLeaf(data);
}

/**
 * Anchors a log growing through `SIZES` on the in-process Hardhat network and records the
 * gasUsed (transaction total, intrinsic gas and calldata included) of each `anchor` call.
 * Roots come from a CompactRange and proofs from the compact range plus the appended leaves,
 * so the old leaves are never held.
 */
export async function measureAnchorGas(): Promise<GasRow[]> {
  await hre.run('compile', { quiet: true });
  const [, anchorer] = await hre.ethers.getSigners();
  const registry = await hre.ethers.deployContract('AnchorRegistry');
  await (await registry.getFunction('registerIssuer')(ISSUER, 'bench', '', [anchorer.address])).wait();
  const anchor = registry.connect(anchorer).getFunction('anchor');

  const range = new CompactRange();
  const rows: GasRow[] = [];
  for (const to of SIZES) {
    const from = range.size;
    const appended = Array.from({ length: to - from }, (_, k) => syntheticLeaf(from + k));
    const proof = from === 0 ? [] : consistencyProofForAppend(range, appended);
    for (const leaf of appended) range.append(leaf);
    const receipt = await (await anchor(ISSUER, to, hre.ethers.hexlify(range.root()), proof.map((p) => hre.ethers.hexlify(p)))).wait();
    rows.push({ from, to, proofHashes: proof.length, gasUsed: Number(receipt!.gasUsed) });
  }
  return rows;
}

/**
 * Gas of `anchor` per checkpoint, keyed `anchor <from>-><to>`, plus the gas per anchored
 * event at 1,000 and at 100,000 events per checkpoint (keyed `per event @<n>/checkpoint`,
 * measured on the 1,000 -> 2,000 and 100,000 -> 200,000 checkpoints).
 */
export async function benchGas(): Promise<Record<string, number>> {
  const rows = await measureAnchorGas();
  const out: Record<string, number> = {};
  for (const r of rows) out[`anchor ${r.from}->${r.to}`] = r.gasUsed;
  out['per event @1000/checkpoint'] = out['anchor 1000->2000'] / 1_000;
  out['per event @100000/checkpoint'] = out['anchor 100000->200000'] / 100_000;
  return out;
}

function formatTable(rows: GasRow[]): string {
  const n = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 2 });
  const lines = [
    '| checkpoint | events | proof hashes | gasUsed | gas/event |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => {
      const label = r.from === 0 ? `first (${n(r.to)} leaves)` : `${n(r.from)} -> ${n(r.to)}`;
      const events = r.to - r.from;
      return `| ${label} | ${n(events)} | ${r.proofHashes} | ${n(r.gasUsed)} | ${n(r.gasUsed / events)} |`;
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
