import { GENESIS_HASH, hashEvent, type LedgerEvent, type LedgerEventBody } from '../../verifier/src/event';
import { fromHex, toHex } from '../../verifier/src/bytes';
import { hashLeaf, inclusionProof, rootFromLeafHashes } from '../../verifier/src/merkle';
import { PROOF_BUNDLE_FORMAT, type ProofBundle, type ProofEntry } from '../../verifier/src/proof-bundle';

export const ALICE = 'r:QWxpY2UtcHNldWRvbnltMQ';
export const BOB = 'r:Qm9iLXBzZXVkb255bS0y';
export const GATE = 'v:340104-gate-7';
export const ISSUER = '340000';
/** The log's first event is at this time; event seq s is at START + (s − 1) minutes. */
export const START_MS = Date.parse('2026-11-28T00:00:00.000Z');

/** RFC 3339 time of event `seq` in the synthetic log, and of the minutes between them. */
export const timeOf = (seq: number, offsetSeconds = 0) => new Date(START_MS + (seq - 1) * 60_000 + offsetSeconds * 1000).toISOString();

/**
 * A synthetic issuer log of `n` events with correct hashes, global and per-subject links:
 * Alice and Bob interleave, every other event of theirs is at the gate, and every tenth is
 * a rules change that belongs to no resident. `types` gives some seqs another event type.
 */
export function buildLog(n = 40, types: Record<number, string> = {}): LedgerEvent[] {
  const heads = new Map<string, string>();
  const log: LedgerEvent[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const i = seq - 1;
    const subjects = seq % 10 === 0 ? ['rules'] : ([[ALICE], [BOB], [ALICE, GATE], [BOB, GATE]][i % 4] as string[]).sort();
    const links: Record<string, string | null> = {};
    for (const s of subjects) links[s] = heads.get(s) ?? null;
    const body: LedgerEventBody = {
      seq,
      type: types[seq] ?? (seq % 10 === 0 ? 'rules.published' : subjects.includes(GATE) ? 'venue.scanned' : 'code.issued'),
      at: timeOf(seq),
      subjects,
      links,
      prev,
      data: { n: i, colour: ['green', 'yellow', 'red'][i % 3], nested: { ok: true, list: [1, 'two', null] } },
    };
    const salt = toHex(Uint8Array.from({ length: 16 }, (_, k) => (seq * 31 + k * 7) & 0xff));
    const hash = hashEvent(body, salt);
    log.push({ ...body, salt, hash });
    for (const s of subjects) heads.set(s, hash);
    prev = hash;
  }
  return log;
}

export function leafHashesOf(log: readonly LedgerEvent[]): Uint8Array[] {
  return log.map((e) => hashLeaf(fromHex(e.hash)));
}

/** The RFC 6962 root of the first `treeSize` events, as 64 hex digits. */
export function rootOf(log: readonly LedgerEvent[], treeSize: number): string {
  return toHex(rootFromLeafHashes(leafHashesOf(log.slice(0, treeSize))));
}

/** An entry for event `seq` proven in the tree of the first `treeSize` events. */
export function entryFor(log: readonly LedgerEvent[], seq: number, treeSize: number): ProofEntry {
  const event = log[seq - 1];
  const leaves = leafHashesOf(log.slice(0, treeSize));
  return { event: structuredClone(event), leafIndex: seq - 1, proof: inclusionProof(leaves, seq - 1).map(toHex) };
}

export interface CheckpointMeta {
  index: number;
  treeSize: number;
  txHash: string;
  blockNumber: number;
  chainId: number;
  contract: string;
}

export const FAKE_META = (treeSize: number): CheckpointMeta => ({
  index: 1,
  treeSize,
  txHash: `0x${'ab'.repeat(32)}`,
  blockNumber: 7,
  chainId: 31337,
  contract: `0x${'5f'.repeat(20)}`,
});

function header(log: readonly LedgerEvent[], meta: CheckpointMeta) {
  return {
    format: PROOF_BUNDLE_FORMAT,
    issuer: ISSUER,
    chain: { chainId: meta.chainId, contract: meta.contract },
    checkpoint: {
      index: meta.index,
      treeSize: meta.treeSize,
      root: rootOf(log, meta.treeSize),
      txHash: meta.txHash,
      blockNumber: meta.blockNumber,
    },
  } as const;
}

/** An event bundle proving events `seqs` in the checkpoint described by `meta`. */
export function eventBundle(log: readonly LedgerEvent[], seqs: number[], meta: CheckpointMeta): ProofBundle {
  return { ...header(log, meta), kind: 'event', events: seqs.map((s) => entryFor(log, s, meta.treeSize)) };
}

/**
 * The history bundle a correct issuer would produce: every event of `subject` in the first
 * `meta.treeSize` events with `from ≤ at ≤ to`, and the subject's neighbours outside the range.
 */
export function historyBundle(
  log: readonly LedgerEvent[],
  subject: string,
  range: { from: string; to: string },
  meta: CheckpointMeta,
): ProofBundle {
  const mine = log.slice(0, meta.treeSize).filter((e) => e.subjects.includes(subject));
  const from = Date.parse(range.from);
  const to = Date.parse(range.to);
  const inside = mine.filter((e) => Date.parse(e.at) >= from && Date.parse(e.at) <= to);
  const before = mine.filter((e) => Date.parse(e.at) < from).pop();
  const after = mine.find((e) => Date.parse(e.at) > to);
  const entry = (e: LedgerEvent | undefined) => (e ? entryFor(log, e.seq, meta.treeSize) : null);
  return {
    ...header(log, meta),
    kind: 'history',
    subject,
    range,
    previous: entry(before),
    next: entry(after),
    events: inside.map((e) => entryFor(log, e.seq, meta.treeSize)),
  };
}
