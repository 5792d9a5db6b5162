import type { RegistryReader } from './chain';

/**
 * What the chain says of a checkpoint beyond its size and root (`getAttestation`, FORMAT.md
 * §11.7): the subject heads map root anchored with the checkpoint, and how many witnesses that
 * still count cosigned (treeSize, root, mapRoot) out of how many the registry requires.
 */
export interface CheckpointAttestation {
  /** The map root stored with the checkpoint, 32 bytes. */
  mapRoot: Uint8Array;
  /** Distinct registered witnesses whose cosignature of this checkpoint the contract accepted. */
  cosigners: number;
  /** How many the registry requires (0 until the council sets it); a checkpoint with fewer is not cosigned. */
  threshold: number;
}

/** A registry reader that can also say what the chain holds of a checkpoint's map and witnesses. */
export interface AttestationReader {
  /** Undefined when the registry keeps no map root for that checkpoint (one anchored before it did). */
  getAttestation(issuer: number, index: number): Promise<CheckpointAttestation | undefined>;
}

/**
 * The reader's attestation side, when it has one (chain.ts's reader has; a stand-in in a test
 * may not). The history command takes the map root and the cosigning from it, and falls back
 * on `--cosigned` only where it answers undefined: a registry that keeps no map roots.
 */
export function attestationReader(registry: RegistryReader): AttestationReader | undefined {
  const r = registry as RegistryReader & Partial<AttestationReader>;
  return typeof r.getAttestation === 'function' ? (r as AttestationReader) : undefined;
}

/** Whether an attestation counts as cosigned: at least one witness, and at least the threshold. */
export function isCosigned(a: CheckpointAttestation): boolean {
  return a.threshold >= 1 && a.cosigners >= a.threshold;
}
