/**
 * Extending the issuer's RFC 6962 log (anchor/tree-store.ts) by 1,000,000 leaves and
 * producing inclusion and consistency proofs, against the same number of bare SHA-256
 * hashes in the same run. Extending hashes every leaf (SHA-256(0x00 ‖ event hash)) and
 * every completed interior node (about one per leaf), and writes the blocks to LevelDB.
 * Runnable alone: npx tsx scripts/bench/anchor.ts [leaves]
 */
import { hash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { TreeStore, leafHash, type TreeDb } from '../../anchor/tree-store';
import { median } from './util';

export interface AnchorBench {
  leaves: number;
  bareSha256Ms: number;
  extendMs: number;
  ratio: number;
  inclusionProofMs: number;
  consistencyProofMs: number;
  proofHashes: number;
  heapAfterMiB: number;
}

export async function benchAnchor(leaves = 1_000_000, rounds = 3): Promise<AnchorBench> {
  const eventHashes = Array.from({ length: 10_000 }, () => randomBytes(32));
  const bare: number[] = [];
  const extend: number[] = [];
  let incl = 0;
  let cons = 0;
  let proofHashes = 0;
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    for (let i = 0; i < leaves; i++) hash('sha256', eventHashes[i % eventHashes.length], 'buffer');
    bare.push(performance.now() - t);

    const dir = mkdtempSync(join(tmpdir(), 'ankang-bench-tree-'));
    const db = new Level<string, unknown>(dir);
    await db.open();
    const tree = await TreeStore.open(
      db.sublevel<string, Uint8Array>('tree', { valueEncoding: 'view' }) as unknown as TreeDb,
    );
    t = performance.now();
    for (let done = 0; done < leaves; done += eventHashes.length) {
      await tree.append(eventHashes.slice(0, Math.min(eventHashes.length, leaves - done)).map((h) => leafHash(h)));
    }
    extend.push(performance.now() - t);
    t = performance.now();
    const proof = await tree.inclusionProof(Math.floor(leaves * 0.618), leaves);
    incl = performance.now() - t;
    t = performance.now();
    await tree.consistencyProof(Math.floor(leaves / 3), leaves);
    cons = performance.now() - t;
    proofHashes = proof.length;
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const b = median(bare);
  const e = median(extend);
  return {
    leaves,
    bareSha256Ms: Math.round(b),
    extendMs: Math.round(e),
    ratio: Math.round((e / b) * 100) / 100,
    inclusionProofMs: Math.round(incl * 100) / 100,
    consistencyProofMs: Math.round(cons * 100) / 100,
    proofHashes,
    heapAfterMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
  };
}

if (require.main === module) {
  benchAnchor(Number(process.argv[2] ?? 1_000_000)).then((r) => console.log(r));
}
