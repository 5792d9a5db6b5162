import type { CheckpointAttestation, RegistryReader } from '../src/registry-reader';

/** A registry reader that can also say what the chain holds of a checkpoint's map and witnesses. */
export interface AttestationReader {
  /** Undefined when the registry keeps no map root for that checkpoint (one anchored before it did). */
  getAttestation(issuer: number, index: number): Promise<CheckpointAttestation | undefined>;
}

/**
 * The reader's attestation side, when it has one (src/registry-reader.ts's reader has; a stand-in in a test
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
