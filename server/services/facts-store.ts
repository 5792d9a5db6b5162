import { openField, sealField } from '../crypto/pii';
import type { Ledger, Tx } from '../../ledger/ledger';
import type { RawFacts } from '../rules/facts';

/**
 * A resident's health facts (temperature, symptoms, visits, case, contact, arrival) as the
 * 'facts' space holds them: the JSON sealed with AES-256-GCM under the encryption key, bound
 * to `facts:<pseudonym>`, so one resident's facts cannot be pasted under another's key.
 */
export interface SealedFacts {
  sealed: string;
}

const factsAad = (pseudonym: string) => `facts:${pseudonym}`;

/** True for a value written by `putFacts`; false for one from before facts were sealed. */
export const isSealedFacts = (v: unknown): v is SealedFacts =>
  typeof v === 'object' && v !== null && typeof (v as SealedFacts).sealed === 'string';

/** Seals a resident's facts for the 'facts' space. */
export const sealFacts = (key: Buffer, pseudonym: string, facts: RawFacts): SealedFacts => ({
  sealed: sealField(key, JSON.stringify(facts), factsAad(pseudonym)),
});

/**
 * Opens what the 'facts' space holds for `pseudonym`. A value in clear (a data folder from
 * before sealing, until `sealStoredText` has run) is returned as it is.
 * @throws Error when the sealed value does not open under this key and pseudonym
 */
export function openFacts(key: Buffer, pseudonym: string, stored: unknown): RawFacts | undefined {
  if (stored === undefined) return undefined;
  if (isSealedFacts(stored)) return JSON.parse(openField(key, stored.sealed, factsAad(pseudonym))) as RawFacts;
  return stored as RawFacts;
}

/** A resident's facts inside a transaction. */
export async function getFacts(tx: Pick<Tx, 'get'>, key: Buffer, pseudonym: string): Promise<RawFacts | undefined> {
  return openFacts(key, pseudonym, await tx.get<unknown>('facts', pseudonym));
}

/** A resident's committed facts, outside a transaction. */
export async function readFacts(
  ledger: Pick<Ledger, 'read'>,
  key: Buffer,
  pseudonym: string,
): Promise<RawFacts | undefined> {
  return openFacts(key, pseudonym, await ledger.read<unknown>('facts', pseudonym));
}

/** Writes a resident's facts, sealed. */
export function putFacts(tx: Pick<Tx, 'put'>, key: Buffer, pseudonym: string, facts: RawFacts): void {
  tx.put('facts', pseudonym, sealFacts(key, pseudonym, facts));
}
