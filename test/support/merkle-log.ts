import { createHash } from 'node:crypto';
import {
  consistencyProof,
  hashLeaf,
  inclusionProof,
  rootFromLeafHashes,
  sizeProofForAppend,
} from '../../verifier/src/merkle';

const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;

/**
 * A synthetic RFC 6962 log for contract tests: leaf i's data is SHA-256("event i") (32 bytes,
 * like an event hash), its leaf hash SHA-256(0x00 ‖ data). Everything comes back as 0x-hex,
 * ready for the contract.
 */
export class MerkleLog {
  readonly data: Uint8Array[];
  readonly leaves: Uint8Array[];

  constructor(
    readonly size: number,
    label = 'event',
  ) {
    this.data = Array.from(
      { length: size },
      (_, i) => new Uint8Array(createHash('sha256').update(`${label} ${i}`).digest()),
    );
    this.leaves = this.data.map(hashLeaf);
  }

  /** The root of the first `n` leaves. */
  root(n: number): string {
    return hex(rootFromLeafHashes(this.leaves.slice(0, n)));
  }

  /** The RFC 9162 consistency proof from `m` to `n` leaves (empty for m = 0, a first checkpoint). */
  consistency(m: number, n: number): string[] {
    return m === 0 ? [] : consistencyProof(this.leaves.slice(0, n), m).map(hex);
  }

  /** The size proof for anchoring `n` leaves after a checkpoint of `m` (0: the first). */
  sizeProof(m: number, n: number): string[] {
    return sizeProofForAppend(m, this.data.slice(m, n)).map(hex);
  }

  /** The audit path of leaf `i` in the tree of the first `n` leaves. */
  inclusion(i: number, n: number): string[] {
    return inclusionProof(this.leaves.slice(0, n), i).map(hex);
  }

  leafHash(i: number): string {
    return hex(this.leaves[i]);
  }

  leafData(i: number): string {
    return hex(this.data[i]);
  }
}
