import { sealField } from '../crypto/pii';
import type { Ledger, Tx } from '../../ledger/ledger';
import { decisionAad, type AppealRecord } from './appeals';
import { isSealedFacts, sealFacts } from './facts-store';
import { OVERRIDE_REASON, sealOverrideReason, type ResidentRecord } from './residents';

/** Bump when another stored value is sealed; the next start seals what older versions left in clear. */
export const SEALED_AT_REST_VERSION = 2;
const VERSION_KEY = 'sealedAtRestVersion';

/**
 * At start: seals what a data folder from an earlier version holds in clear (health facts and
 * appeal decisions' reasons from version 1, the reviewer's reason on a resident's override from 2), in chunks, then sets the version mark last, so a crash
 * part-way leaves no mark and the next start goes on (sealed values are left as they are).
 * Then compacts the database, so the clear values no longer sit in older LevelDB files.
 * No event is written: the events never held these texts.
 */
export async function sealStoredText(ledger: Ledger, key: Buffer, chunk = 2_000): Promise<{ sealed: number }> {
  if ((await ledger.read<number>('meta', VERSION_KEY)) === SEALED_AT_REST_VERSION) return { sealed: 0 };
  let sealed = 0;
  let batch: Array<(tx: Tx) => void> = [];
  const flush = async () => {
    const todo = batch;
    batch = [];
    if (todo.length) await ledger.transact((tx) => todo.forEach((op) => op(tx)));
  };
  const add = async (op: (tx: Tx) => void) => {
    sealed++;
    batch.push(op);
    if (batch.length >= chunk) await flush();
  };
  for await (const [pseudonym, value] of ledger.space('facts').iterator()) {
    if (!isSealedFacts(value)) await add((tx) => tx.put('facts', pseudonym, sealFacts(key, pseudonym, value as never)));
  }
  for await (const [k, value] of ledger.space('index').iterator({ gt: 'appeal/', lt: 'appeal/~' })) {
    const a = value as AppealRecord;
    const d = a.decision;
    if (!d || d.reasonSealed || d.reason === undefined) continue;
    const { reason, ...rest } = d;
    await add((tx) =>
      tx.put('index', k, {
        ...a,
        decision: { ...rest, reasonSealed: sealField(key, reason, decisionAad(a)) },
      } satisfies AppealRecord),
    );
  }
  for await (const [pseudonym, value] of ledger.space('residents').iterator()) {
    const r = value as ResidentRecord;
    if (!r.override || r.override.reasonSealed || r.override.reason === undefined) continue;
    const { reason, ...rest } = r.override;
    // Written as it is (not through putResident): only the override's reason changes, never the colour or an index.
    await add((tx) =>
      tx.put('residents', pseudonym, {
        ...r,
        reasons: r.reasons.map((x) => (x.id === 'authority-override' ? { ...x, reason: OVERRIDE_REASON } : x)),
        override: { ...rest, reasonSealed: sealOverrideReason(key, pseudonym, reason) },
      } satisfies ResidentRecord),
    );
  }
  await flush();
  await ledger.transact((tx) => tx.put('meta', VERSION_KEY, SEALED_AT_REST_VERSION));
  // LevelDB keeps overwritten values in older files until a compaction reaches them.
  if (sealed) await ledger.compact(['facts', 'index', 'residents']);
  return { sealed };
}
