import { GENESIS_HASH, hashEvent, type LedgerEvent, type LedgerEventBody } from '../../verifier/src/event';
import { fromHex, toHex } from '../../verifier/src/bytes';
import { hashLeaf, inclusionProof, rootFromLeafHashes } from '../../verifier/src/merkle';
import {
  PROOF_BUNDLE_FORMAT,
  PROOF_BUNDLE_FORMAT_1,
  type ProofBundle,
  type ProofEntry,
} from '../../verifier/src/proof-bundle';
import { SubjectMap, type SubjectHead } from '../../verifier/src/subject-map';

export const ALICE = 'r:QWxpY2UtcHNldWRvbnltMQ';
export const BOB = 'r:Qm9iLXBzZXVkb255bS0y';
export const GATE = 'v:340104-gate-7';
export const ISSUER = '340000';
/** The log's first event is at this time; event seq s is at START + (s − 1) minutes. */
export const START_MS = Date.parse('2026-11-28T00:00:00.000Z');

/** RFC 3339 time of event `seq` in the synthetic log, and of the minutes between them. */
export const timeOf = (seq: number, offsetSeconds = 0) =>
  new Date(START_MS + (seq - 1) * 60_000 + offsetSeconds * 1000).toISOString();

/**
 * A synthetic issuer log of `n` events with correct hashes, global and per-subject links:
 * Alice and Bob interleave, every other event of theirs is at the gate, and every tenth is
 * a rules change that belongs to no resident. `types` gives some seqs another event type.
 */
export function buildLog(n = 40, types: Record<number, string> = {}): LedgerEvent[] {
  return buildEvents(logSpecs(n, types));
}

/** The specs of `buildLog`'s events, to extend or change before building. */
export function logSpecs(n: number, types: Record<number, string> = {}): EventSpec[] {
  return Array.from({ length: n }, (_, i) => {
    const seq = i + 1;
    const subjects =
      seq % 10 === 0 ? ['rules'] : ([[ALICE], [BOB], [ALICE, GATE], [BOB, GATE]][i % 4] as string[]).sort();
    return {
      subjects,
      type:
        types[seq] ?? (seq % 10 === 0 ? 'rules.published' : subjects.includes(GATE) ? 'venue.scanned' : 'code.issued'),
    };
  });
}

/** One event to build: its subjects and type; `links` replaces the honest link of the subjects it names (a forger's event). */
export interface EventSpec {
  subjects: string[];
  type: string;
  /** Subject → the seq of the event to link it to, or null for a first event. */
  links?: Record<string, number | null>;
  /** Seconds to shift the event's time by. */
  offsetSeconds?: number;
}

/**
 * A log with correct hashes and global links, written as the ledger writes it: each subject's
 * link is the hash of the last event that listed it (null for its first), unless the spec
 * overrides it — as an operator who rewrote the ledger's subject heads would.
 */
export function buildEvents(specs: EventSpec[]): LedgerEvent[] {
  const heads = new Map<string, string>();
  const log: LedgerEvent[] = [];
  let prev = GENESIS_HASH;
  for (const [i, spec] of specs.entries()) {
    const seq = i + 1;
    const subjects = [...spec.subjects].sort();
    const links: Record<string, string | null> = {};
    for (const s of subjects) {
      const forged = spec.links && Object.hasOwn(spec.links, s) ? spec.links[s] : undefined;
      links[s] = forged === undefined ? (heads.get(s) ?? null) : forged === null ? null : log[forged - 1].hash;
    }
    const body: LedgerEventBody = {
      seq,
      type: spec.type,
      at: timeOf(seq, spec.offsetSeconds),
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

/** The subject heads map of the first `treeSize` events, counted straight from them (FORMAT.md §13.1). */
export function mapOf(log: readonly LedgerEvent[], treeSize: number): SubjectMap {
  const heads = new Map<string, SubjectHead>();
  for (const e of log.slice(0, treeSize))
    for (const s of e.subjects) heads.set(s, { count: (heads.get(s)?.count ?? 0) + 1, head: e.hash });
  return SubjectMap.empty().with(heads);
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

/** Bundles of format 1 (no subject map, as before issue 14) or 2 (with the checkpoint's map root and the subject's head). */
export type BundleVersion = 1 | 2;

function header(log: readonly LedgerEvent[], meta: CheckpointMeta, version: BundleVersion) {
  return {
    format: version === 2 ? PROOF_BUNDLE_FORMAT : PROOF_BUNDLE_FORMAT_1,
    issuer: ISSUER,
    chain: { chainId: meta.chainId, contract: meta.contract },
    checkpoint: {
      index: meta.index,
      treeSize: meta.treeSize,
      root: rootOf(log, meta.treeSize),
      ...(version === 2 ? { mapRoot: toHex(mapOf(log, meta.treeSize).root()) } : {}),
      txHash: meta.txHash,
      blockNumber: meta.blockNumber,
    },
  } as const;
}

/** An event bundle proving events `seqs` in the checkpoint described by `meta`. */
export function eventBundle(
  log: readonly LedgerEvent[],
  seqs: number[],
  meta: CheckpointMeta,
  version: BundleVersion = 1,
): ProofBundle {
  return { ...header(log, meta, version), kind: 'event', events: seqs.map((s) => entryFor(log, s, meta.treeSize)) };
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
  version: BundleVersion = 1,
): ProofBundle {
  const mine = log.slice(0, meta.treeSize).filter((e) => e.subjects.includes(subject));
  const from = Date.parse(range.from);
  const to = Date.parse(range.to);
  const inside = mine.filter((e) => Date.parse(e.at) >= from && Date.parse(e.at) <= to);
  const before = mine.filter((e) => Date.parse(e.at) < from).pop();
  const after = mine.find((e) => Date.parse(e.at) > to);
  const entry = (e: LedgerEvent | undefined) => (e ? entryFor(log, e.seq, meta.treeSize) : null);
  const map = mapOf(log, meta.treeSize);
  return {
    ...header(log, meta, version),
    kind: 'history',
    subject,
    range,
    previous: entry(before),
    next: entry(after),
    events: inside.map((e) => entryFor(log, e.seq, meta.treeSize)),
    ...(version === 2 ? { subjectHead: { ...map.get(subject), proof: map.prove(subject) } } : {}),
  };
}
