import type { Colour } from '../../verifier/src';
import type { Ledger, Tx } from '../../ledger/ledger';
import type { ResidentRecord } from './residents';

/**
 * Two indexes over the resident records, kept in the same transaction as every record
 * write, so that the dashboard and grid workers do not read every resident of a province:
 *
 * - `atrisk/<district>/<pseudonym>` → colour, for each resident who is yellow or red
 *   (the grid list reads only these);
 * - `colours/<district>` → `{ green, yellow, red }` counts (colour statistics read one
 *   entry per district).
 *
 * Both live in the `index` space. `meta/residentIndex` names the version of this layout;
 * a data folder without it (written before the indexes existed) is indexed once at start.
 */
export const RESIDENT_INDEX_VERSION = 1;
const VERSION_KEY = 'residentIndex';
const AT_RISK = 'atrisk/';
const COUNTS = 'colours/';

export type ColourCounts = Record<Colour, number>;

const atRiskKey = (district: string, pseudonym: string) => `${AT_RISK}${district}/${pseudonym}`;
const countKey = (district: string) => `${COUNTS}${district}`;
const noCounts = (): ColourCounts => ({ green: 0, yellow: 0, red: 0 });

/** Writes a resident record and moves it in both indexes when its colour or district changed. */
export async function putResident(tx: Tx, next: ResidentRecord): Promise<void> {
  const prior = await tx.get<ResidentRecord>('residents', next.pseudonym);
  tx.put('residents', next.pseudonym, next);
  if (prior && prior.colour === next.colour && prior.district === next.district) return;
  if (prior) {
    if (prior.colour !== 'green') tx.del('index', atRiskKey(prior.district, prior.pseudonym));
    await count(tx, prior.district, prior.colour, -1);
  }
  if (next.colour !== 'green') tx.put('index', atRiskKey(next.district, next.pseudonym), next.colour);
  await count(tx, next.district, next.colour, +1);
}

async function count(tx: Tx, district: string, colour: Colour, by: 1 | -1): Promise<void> {
  const c = (await tx.get<ColourCounts>('index', countKey(district))) ?? noCounts();
  tx.put('index', countKey(district), { ...c, [colour]: Math.max(0, c[colour] + by) });
}

/** Colour counts by district, from the index (one read per district). */
export async function colourCounts(ledger: Ledger): Promise<Map<string, ColourCounts>> {
  const out = new Map<string, ColourCounts>();
  for await (const [key, value] of ledger.space('index').iterator({ gt: COUNTS, lt: `${COUNTS}~` })) {
    out.set(key.slice(COUNTS.length), value as ColourCounts);
  }
  return out;
}

/**
 * Pseudonyms of yellow and red residents whose district starts with one of `prefixes`
 * (all of them when `prefixes` is undefined), with their district and colour. Prefixes of
 * one length (province codes, say) never overlap, so each resident comes once.
 */
export async function* atRisk(
  ledger: Ledger,
  prefixes?: string[],
): AsyncGenerator<{ district: string; pseudonym: string; colour: Colour }> {
  for (const prefix of prefixes ? new Set(prefixes) : ['']) {
    const from = AT_RISK + prefix;
    for await (const [key, value] of ledger.space('index').iterator({ gte: from, lt: `${from}~` })) {
      const [district, pseudonym] = key.slice(AT_RISK.length).split('/');
      yield { district, pseudonym, colour: value as Colour };
    }
  }
}

/**
 * At start: when the data folder has no indexes of this version, builds them from every
 * resident record (no events: the indexes are derived state). It writes in chunks and sets
 * the version mark last, so a crash part-way leaves no mark and the next start rebuilds.
 */
export async function ensureResidentIndexes(
  ledger: Ledger,
  chunk = 10_000,
): Promise<{ rebuilt: boolean; residents: number }> {
  if ((await ledger.read<number>('meta', VERSION_KEY)) === RESIDENT_INDEX_VERSION)
    return { rebuilt: false, residents: 0 };
  const inChunks = async (ops: AsyncIterable<(tx: Tx) => void>) => {
    let batch: Array<(tx: Tx) => void> = [];
    const flush = async () => {
      const todo = batch;
      batch = [];
      if (todo.length) await ledger.transact((tx) => todo.forEach((op) => op(tx)));
    };
    for await (const op of ops) {
      batch.push(op);
      if (batch.length >= chunk) await flush();
    }
    await flush();
  };
  async function* stale() {
    for (const prefix of [AT_RISK, COUNTS]) {
      for await (const key of ledger.space('index').keys({ gt: prefix, lt: `${prefix}~` }))
        yield (tx: Tx) => tx.del('index', key);
    }
  }
  await inChunks(stale());
  // Counts per district are few (one per district); the at-risk entries go out as they are found.
  const counts = new Map<string, ColourCounts>();
  let residents = 0;
  async function* atRiskEntries() {
    for await (const value of ledger.space('residents').values()) {
      const r = value as ResidentRecord;
      residents++;
      const c = counts.get(r.district) ?? noCounts();
      c[r.colour]++;
      counts.set(r.district, c);
      if (r.colour !== 'green') yield (tx: Tx) => tx.put('index', atRiskKey(r.district, r.pseudonym), r.colour);
    }
  }
  await inChunks(atRiskEntries());
  await ledger.transact((tx) => {
    for (const [district, c] of counts) tx.put('index', countKey(district), c);
    tx.put('meta', VERSION_KEY, RESIDENT_INDEX_VERSION);
  });
  return { rebuilt: true, residents };
}
