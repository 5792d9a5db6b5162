import { equalBytes, fromHex } from './bytes';
import { hashEvent, isErased, type ErasedEvent, type LedgerEvent } from './event';
import { hashLeaf, rootFromInclusionProof } from './merkle';
import { SUBJECT_KEY_BITS, verifySubjectProof, type SubjectProof } from './subject-map';

/** The `format` member of the proof bundles issuers make (FORMAT.md §10): with the subject heads map of §13. */
export const PROOF_BUNDLE_FORMAT = 'ankang-proof-bundle/2';
/** The format before the subject heads map: still checked, but its completeness is unknown. */
export const PROOF_BUNDLE_FORMAT_1 = 'ankang-proof-bundle/1';
/** At most this many events in one bundle. */
export const MAX_BUNDLE_EVENTS = 100_000;
/** At most this many hashes in one inclusion proof (a tree of 2^64 leaves needs 64). */
export const MAX_PROOF_HASHES = 64;

/**
 * Every result a proof check can end in (FORMAT.md §10 gives the order they are checked in).
 * `CHECKPOINT_MISMATCH`: the bundle's checkpoint is not the one on chain.
 * `EVENT_ALTERED`: an event's hash does not recompute from its body and salt.
 * `NOT_INCLUDED`: an inclusion proof does not lead to the chain's root, or the leaf index is not seq − 1.
 * `HISTORY_GAP`: the subject's hash links skip an event (one was removed) or do not meet `previous`/`next`.
 * `HISTORY_ORDER`: sequence numbers do not strictly increase.
 * `OUT_OF_RANGE`: an event lies outside the range, or is not about the subject.
 * `HEAD_NOT_PROVEN`: the subject's head does not prove into the checkpoint's map root (§13).
 * `HEAD_MISMATCH`: the events disagree with the subject's proven head: one was left out at the end, or the count does not add up.
 */
export type ProofCode =
  | 'VALID'
  | 'MALFORMED'
  | 'CHECKPOINT_MISMATCH'
  | 'EVENT_ALTERED'
  | 'NOT_INCLUDED'
  | 'HISTORY_GAP'
  | 'HISTORY_ORDER'
  | 'OUT_OF_RANGE'
  | 'HEAD_NOT_PROVEN'
  | 'HEAD_MISMATCH';

/**
 * Whether a valid history is also known complete (FORMAT.md §13.5):
 * `COMPLETE`: a format 2 bundle under a checkpoint that witnesses cosigned;
 * `NOT_COSIGNED`: format 2, but the checkpoint is not (known to be) cosigned, so a fork could hide events;
 * `FORMAT_1`: a bundle without the subject's head: completeness unknown;
 * `NOT_VALID`: the bundle did not verify.
 */
export type CompletenessCode = 'COMPLETE' | 'NOT_COSIGNED' | 'FORMAT_1' | 'NOT_VALID';

/** A subject's head in the checkpoint's map, with its proof (FORMAT.md §13.2). */
export interface SubjectHeadEntry {
  count: number;
  head: string | null;
  proof: SubjectProof;
}

/** One proven event: the event, its leaf index (seq − 1) and its RFC 6962 audit path in hex. */
export interface ProofEntry {
  event: LedgerEvent;
  leafIndex: number;
  proof: string[];
}

/**
 * A history's `previous` when the subject's events before the range were erased by retention
 * (FORMAT.md §10.1): the erased event's stub, whose hash the first listed event links to.
 */
export interface ErasedEntry {
  event: ErasedEvent;
  leafIndex: number;
  proof: string[];
}

export interface ProofBundle {
  format: typeof PROOF_BUNDLE_FORMAT | typeof PROOF_BUNDLE_FORMAT_1;
  kind: 'event' | 'history';
  /** GB/T 2260 region code of the issuer whose log the events are in. */
  issuer: string;
  /** Where the checkpoint is anchored; informative: a verifier checks against the chain it trusts. */
  chain: { chainId: number; contract: string };
  /**
   * The checkpoint the proofs are for; `root` is 64 hex digits, `txHash` the anchoring
   * transaction; `mapRoot` (format 2) the subject heads map's root at `treeSize`.
   */
  checkpoint: { index: number; treeSize: number; root: string; mapRoot?: string; txHash: string; blockNumber: number };
  /** History bundles only: `r:<pseudonym>` or `v:<venue id>`. */
  subject?: string;
  /** History bundles only: RFC 3339 times, both ends included. */
  range?: { from: string; to: string };
  /**
   * History bundles only: the subject's last event before `from`, or null when it has none;
   * an erased event's stub when the history starts after retention erased the events before it.
   */
  previous?: ProofEntry | ErasedEntry | null;
  /** History bundles only: the subject's first event after `to`, or null when it has none. */
  next?: ProofEntry | null;
  /** History bundles of format 2 only: the subject's head in the checkpoint's map. */
  subjectHead?: SubjectHeadEntry;
  events: ProofEntry[];
}

/** A checkpoint as read from the chain: the only size and root proofs are checked against. */
export interface AnchoredCheckpoint {
  treeSize: number;
  root: Uint8Array;
  /** The subject heads map root the chain holds for the checkpoint, once the registry keeps one: the bundle's must equal it. */
  mapRoot?: Uint8Array;
  /**
   * Whether enough witnesses cosigned the checkpoint's (treeSize, root, mapRoot) — `mapRoot`
   * above when given, else the bundle's (FORMAT.md §13.3). Left out: not known, read as false.
   */
  cosigned?: boolean;
}

export interface ProofResult {
  valid: boolean;
  code: ProofCode;
  message: string;
  /** How many entries of `events` had passed the hash and inclusion checks when checking stopped. */
  checked: number;
  /** History checks only: whether the history is known complete (FORMAT.md §13.5), and why (not). */
  complete?: boolean;
  completeness?: { code: CompletenessCode; reason: string };
}

/** Thrown inside the proof checks; `verifyEventProofs` and `verifyHistory` turn it into a result. */
export class ProofError extends Error {
  readonly code: ProofCode;

  constructor(code: ProofCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProofError';
    this.code = code;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const SALT = /^[0-9a-f]{32}$/;
const TX_HASH = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const ISSUER = /^[1-9][0-9]{5}$/;
const SUBJECT = /^[rvd]:\S{1,256}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const EVENT_KEYS = ['seq', 'type', 'at', 'subjects', 'links', 'prev', 'data', 'salt', 'hash'];
const MAX_DATA_DEPTH = 32;
const FORMATS: readonly string[] = [PROOF_BUNDLE_FORMAT, PROOF_BUNDLE_FORMAT_1];

const bad = (message: string) => new ProofError('MALFORMED', message);

/**
 * Checks that `value` has the shape of a proof bundle (FORMAT.md §10) and returns it typed.
 * Only the shape: no hash, proof or chain is looked at.
 * @throws ProofError MALFORMED, naming the first member that is wrong
 * @example const bundle = parseProofBundle(JSON.parse(text));
 */
export function parseProofBundle(value: unknown): ProofBundle {
  const b = record(value, 'the bundle');
  if (typeof b.format !== 'string' || !FORMATS.includes(b.format))
    throw bad(`format must be "${PROOF_BUNDLE_FORMAT}" or "${PROOF_BUNDLE_FORMAT_1}"`);
  const v2 = b.format === PROOF_BUNDLE_FORMAT;
  if (b.kind !== 'event' && b.kind !== 'history') throw bad('kind must be "event" or "history"');
  if (typeof b.issuer !== 'string' || !ISSUER.test(b.issuer)) throw bad('issuer must be a six-digit region code');
  const chain = record(b.chain, 'chain');
  if (!isInt(chain.chainId) || chain.chainId < 1) throw bad('chain.chainId must be a positive integer');
  if (typeof chain.contract !== 'string' || !ADDRESS.test(chain.contract)) {
    throw bad('chain.contract must be a 0x-prefixed 20-byte address');
  }
  const cp = record(b.checkpoint, 'checkpoint');
  if (!isInt(cp.index)) throw bad('checkpoint.index must be a non-negative integer');
  if (!isInt(cp.treeSize) || cp.treeSize < 1) throw bad('checkpoint.treeSize must be a positive integer');
  if (typeof cp.root !== 'string' || !HEX64.test(cp.root))
    throw bad('checkpoint.root must be 64 lower-case hex digits');
  if (typeof cp.txHash !== 'string' || !TX_HASH.test(cp.txHash))
    throw bad('checkpoint.txHash must be a 0x-prefixed 32-byte hash');
  if (!isInt(cp.blockNumber)) throw bad('checkpoint.blockNumber must be a non-negative integer');
  if (v2 && (typeof cp.mapRoot !== 'string' || !HEX64.test(cp.mapRoot)))
    throw bad('checkpoint.mapRoot must be 64 lower-case hex digits');

  if (!Array.isArray(b.events)) throw bad('events must be an array');
  if (b.events.length > MAX_BUNDLE_EVENTS) throw bad(`events has more than ${MAX_BUNDLE_EVENTS} entries`);
  b.events.forEach((e, i) => checkEntry(e, `events[${i}]`));

  const historyOnly = ['subject', 'range', 'previous', 'next'] as const;
  if (b.kind === 'event') {
    if (b.events.length === 0) throw bad('an event bundle must hold at least one event');
    const extra = historyOnly.find((k) => k in b);
    if (extra) throw bad(`${extra} belongs only in a history bundle`);
    if (v2 && 'subjectHead' in b) throw bad('subjectHead belongs only in a history bundle');
  } else {
    if (typeof b.subject !== 'string' || !SUBJECT.test(b.subject))
      throw bad('subject must be r:<pseudonym>, v:<venue id> or d:<desk id>');
    const range = record(b.range, 'range');
    const from = parseTime(range.from, 'range.from');
    const to = parseTime(range.to, 'range.to');
    if (from > to) throw bad('range.from is after range.to');
    for (const k of ['previous', 'next'] as const) {
      if (!(k in b)) throw bad(`${k} is required in a history bundle (null when there is none)`);
      if (b[k] !== null) checkEntry(b[k], k, k === 'previous');
    }
    if (v2) checkSubjectHead(b.subjectHead);
  }
  return b as unknown as ProofBundle;
}

/** The shape of `subjectHead` (FORMAT.md §13.4); whether its proof holds is checked later. */
function checkSubjectHead(value: unknown): void {
  const h = record(value, 'subjectHead');
  if (!isInt(h.count)) throw bad('subjectHead.count must be a non-negative integer');
  if (h.count === 0 ? h.head !== null : typeof h.head !== 'string' || !HEX64.test(h.head)) {
    throw bad('subjectHead.head must be 64 lower-case hex digits, or null with a count of 0');
  }
  const p = record(h.proof, 'subjectHead.proof');
  if (typeof p.bitmap !== 'string' || !HEX64.test(p.bitmap))
    throw bad('subjectHead.proof.bitmap must be 64 lower-case hex digits');
  if (
    !Array.isArray(p.siblings) ||
    p.siblings.length > SUBJECT_KEY_BITS ||
    !p.siblings.every((x) => typeof x === 'string' && HEX64.test(x))
  ) {
    throw bad(`subjectHead.proof.siblings must be at most ${SUBJECT_KEY_BITS} hashes of 64 lower-case hex digits`);
  }
  if (p.other !== undefined) {
    const o = record(p.other, 'subjectHead.proof.other');
    if (
      typeof o.key !== 'string' ||
      !HEX64.test(o.key) ||
      !isInt(o.count) ||
      typeof o.head !== 'string' ||
      !HEX64.test(o.head)
    ) {
      throw bad('subjectHead.proof.other must be { key, count, head }');
    }
  }
}

const ERASED_KEYS = ['seq', 'type', 'at', 'prev', 'hash', 'erased'];

function checkEntry(value: unknown, what: string, mayBeErased = false): void {
  const entry = record(value, what);
  const e = record(entry.event, `${what}.event`);
  if (mayBeErased && 'erased' in e) return checkErasedEntry(entry, e, what);
  const extra = Object.keys(e).find((k) => !EVENT_KEYS.includes(k));
  if (extra !== undefined) throw bad(`${what}.event has a member "${extra}" that the hash does not cover`);
  if (!isInt(e.seq) || e.seq < 1) throw bad(`${what}.event.seq must be a positive integer`);
  const at = `${what} (seq ${e.seq})`;
  if (typeof e.type !== 'string' || e.type === '') throw bad(`${at}: type must be a non-empty string`);
  parseTime(e.at, `${at}: at`);
  if (!Array.isArray(e.subjects) || !e.subjects.every((s) => typeof s === 'string')) {
    throw bad(`${at}: subjects must be an array of strings`);
  }
  const links = record(e.links, `${at}: links`);
  for (const [k, v] of Object.entries(links)) {
    if (v !== null && (typeof v !== 'string' || !HEX64.test(v)))
      throw bad(`${at}: links["${k}"] must be 64 hex digits or null`);
  }
  if (typeof e.prev !== 'string' || !HEX64.test(e.prev)) throw bad(`${at}: prev must be 64 lower-case hex digits`);
  checkJson(record(e.data, `${at}: data`), `${at}: data`, 0);
  if (typeof e.salt !== 'string' || !SALT.test(e.salt)) throw bad(`${at}: salt must be 32 lower-case hex digits`);
  if (typeof e.hash !== 'string' || !HEX64.test(e.hash)) throw bad(`${at}: hash must be 64 lower-case hex digits`);
  if (!isInt(entry.leafIndex)) throw bad(`${at}: leafIndex must be a non-negative integer`);
  if (!Array.isArray(entry.proof)) throw bad(`${at}: proof must be an array`);
  if (entry.proof.length > MAX_PROOF_HASHES) throw bad(`${at}: proof has more than ${MAX_PROOF_HASHES} hashes`);
  if (!entry.proof.every((h) => typeof h === 'string' && HEX64.test(h))) {
    throw bad(`${at}: every proof hash must be 64 lower-case hex digits`);
  }
}

/** An erased event's stub (FORMAT.md §12.1): no subjects, links, data or salt; `erased.by` names a later event. */
function checkErasedEntry(entry: Record<string, unknown>, e: Record<string, unknown>, what: string): void {
  const extra = Object.keys(e).find((k) => !ERASED_KEYS.includes(k));
  if (extra !== undefined)
    throw bad(`${what}.event is erased and has a member "${extra}" an erased event does not keep`);
  if (!isInt(e.seq) || e.seq < 1) throw bad(`${what}.event.seq must be a positive integer`);
  const at = `${what} (seq ${e.seq}, erased)`;
  if (typeof e.type !== 'string' || e.type === '') throw bad(`${at}: type must be a non-empty string`);
  parseTime(e.at, `${at}: at`);
  if (typeof e.prev !== 'string' || !HEX64.test(e.prev)) throw bad(`${at}: prev must be 64 lower-case hex digits`);
  if (typeof e.hash !== 'string' || !HEX64.test(e.hash)) throw bad(`${at}: hash must be 64 lower-case hex digits`);
  const by = record(e.erased, `${at}: erased`);
  if (!isInt(by.by) || by.by <= e.seq || Object.keys(by).length !== 1)
    throw bad(`${at}: erased must be { by: <the seq of a later retention.erased event> }`);
  if (!isInt(entry.leafIndex)) throw bad(`${at}: leafIndex must be a non-negative integer`);
  if (
    !Array.isArray(entry.proof) ||
    entry.proof.length > MAX_PROOF_HASHES ||
    !entry.proof.every((h) => typeof h === 'string' && HEX64.test(h))
  ) {
    throw bad(`${at}: proof must be at most ${MAX_PROOF_HASHES} hashes of 64 lower-case hex digits`);
  }
}

/** What canonicalJson can hash without throwing: JSON values only, nested at most 32 deep. */
function checkJson(value: unknown, what: string, depth: number): void {
  if (depth > MAX_DATA_DEPTH) throw bad(`${what} is nested more than ${MAX_DATA_DEPTH} deep`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw bad(`${what} holds a number JSON cannot carry`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v) => checkJson(v, what, depth + 1));
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) checkJson(v, what, depth + 1);
    return;
  }
  throw bad(`${what} holds a value JSON cannot carry`);
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function isInt(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

/** Milliseconds since the epoch; events carry milliseconds, so seconds would not order them. */
function parseTime(text: unknown, what: string): number {
  if (typeof text !== 'string' || !RFC3339.test(text)) throw bad(`${what} must be an RFC 3339 time with an offset`);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw bad(`${what} is not a real time`);
  return ms;
}

/**
 * Checks every event of a bundle (either kind) against a checkpoint read from the chain:
 * the bundle names that checkpoint, each event's hash recomputes, and each inclusion proof
 * leads from leaf seq − 1 to the chain's root. In a history bundle `previous` and `next`
 * are checked too. Never throws: bad input is a `MALFORMED` result.
 * @param anchored the size and root as the contract returned them, never taken from the bundle
 * @example
 * const cp = await registry.getCheckpoint(issuer, bundle.checkpoint.index);
 * const r = verifyEventProofs(bundle, { treeSize: Number(cp.treeSize), root: getBytes(cp.root) });
 */
export function verifyEventProofs(bundle: unknown, anchored: AnchoredCheckpoint): ProofResult {
  const progress = { checked: 0 };
  return settle(() => {
    const b = parseProofBundle(bundle);
    checkEntries(b, anchored, progress);
    const n = b.events.length;
    return `${n} ${n === 1 ? 'event' : 'events'} of issuer ${b.issuer} ${n === 1 ? 'is' : 'are'} included in checkpoint ${b.checkpoint.index} (size ${anchored.treeSize})`;
  }, progress);
}

/**
 * Everything `verifyEventProofs` checks, then that the bundle is a complete history of its
 * subject over its range: every event is about the subject and inside the range, sequence
 * numbers strictly increase, and each event's `links[subject]` is the hash of the one
 * before it, from `previous` (or null: the subject's first event) through to `next`. So no
 * event of the subject between `previous` and the last listed event can have been left
 * out. With `next` null the end is open: the links cannot show that nothing followed, and
 * the message says so. Never throws: bad input is a `MALFORMED` result.
 * @param anchored the size and root as the contract returned them, never taken from the bundle
 * @example const r = verifyHistory(JSON.parse(text), anchored); if (!r.valid) console.log(r.code, r.message);
 */
export function verifyHistory(bundle: unknown, anchored: AnchoredCheckpoint): ProofResult {
  const progress = { checked: 0 };
  let completeness: Completeness | undefined;
  const result = settle(() => {
    const b = parseProofBundle(bundle);
    if (b.kind !== 'history') throw bad('kind must be "history" to check a history');
    checkEntries(b, anchored, progress);
    const checked = checkHistory(b, anchored);
    completeness = checked.completeness;
    return checked.message;
  }, progress);
  const c =
    result.valid && completeness
      ? completeness
      : { code: 'NOT_VALID' as const, reason: 'the bundle does not verify, so it proves nothing about completeness' };
  return { ...result, complete: c.code === 'COMPLETE', completeness: c };
}

type Completeness = NonNullable<ProofResult['completeness']>;

function settle(check: () => string, progress: { checked: number }): ProofResult {
  try {
    return { valid: true, code: 'VALID', message: check(), checked: progress.checked };
  } catch (e) {
    if (e instanceof ProofError) return { valid: false, code: e.code, message: e.message, checked: progress.checked };
    return { valid: false, code: 'MALFORMED', message: 'the bundle could not be read', checked: progress.checked };
  }
}

function checkAnchored(anchored: AnchoredCheckpoint): void {
  if (!anchored || !Number.isSafeInteger(anchored.treeSize) || anchored.treeSize < 1) {
    throw bad('the anchored checkpoint must have a positive tree size');
  }
  if (!(anchored.root instanceof Uint8Array) || anchored.root.length !== 32)
    throw bad('the anchored root must be 32 bytes');
  if (anchored.mapRoot !== undefined && (!(anchored.mapRoot instanceof Uint8Array) || anchored.mapRoot.length !== 32)) {
    throw bad('the anchored map root must be 32 bytes');
  }
  if (anchored.cosigned !== undefined && typeof anchored.cosigned !== 'boolean')
    throw bad('cosigned must be true or false');
}

/** Checkpoint, then every event's hash, then every inclusion proof (FORMAT.md §10 order). */
function checkEntries(b: ProofBundle, anchored: AnchoredCheckpoint, progress: { checked: number }): void {
  checkAnchored(anchored);
  const cp = b.checkpoint;
  if (cp.treeSize !== anchored.treeSize) {
    throw new ProofError(
      'CHECKPOINT_MISMATCH',
      `the bundle says checkpoint ${cp.index} has size ${cp.treeSize}, the chain says ${anchored.treeSize}`,
    );
  }
  if (!equalBytes(fromHex(cp.root), anchored.root)) {
    throw new ProofError('CHECKPOINT_MISMATCH', `the bundle's root of checkpoint ${cp.index} is not the root on chain`);
  }
  if (
    anchored.mapRoot &&
    cp.mapRoot !== undefined &&
    b.format === PROOF_BUNDLE_FORMAT &&
    !equalBytes(fromHex(cp.mapRoot), anchored.mapRoot)
  ) {
    throw new ProofError(
      'CHECKPOINT_MISMATCH',
      `the bundle's map root of checkpoint ${cp.index} is not the map root on chain`,
    );
  }
  const listed = new Set(b.events);
  const entries = [...(b.previous ? [b.previous] : []), ...b.events, ...(b.next ? [b.next] : [])];

  for (const { event } of entries) {
    // An erased event's body is gone: only its inclusion, by hash, is checked (FORMAT.md §12.1).
    if (isErased(event)) continue;
    const { seq, type, at, subjects, links, prev, data, salt, hash } = event;
    if (hashEvent({ seq, type, at, subjects, links, prev, data }, salt) !== hash) {
      throw new ProofError('EVENT_ALTERED', `event seq ${seq}: its hash does not recompute from its body and salt`);
    }
  }
  for (const entry of entries) {
    const { seq, hash } = entry.event;
    if (entry.leafIndex !== seq - 1) {
      throw new ProofError(
        'NOT_INCLUDED',
        `event seq ${seq}: leafIndex is ${entry.leafIndex}, but seq ${seq} is leaf ${seq - 1}`,
      );
    }
    if (entry.leafIndex >= anchored.treeSize) {
      throw new ProofError(
        'NOT_INCLUDED',
        `event seq ${seq}: leaf ${entry.leafIndex} is beyond the checkpoint's ${anchored.treeSize} leaves`,
      );
    }
    let root: Uint8Array | undefined;
    try {
      root = rootFromInclusionProof(
        hashLeaf(fromHex(hash)),
        entry.leafIndex,
        anchored.treeSize,
        entry.proof.map(fromHex),
      );
    } catch {
      root = undefined; // a proof of the wrong length: not included either way
    }
    if (!root || !equalBytes(root, anchored.root)) {
      throw new ProofError(
        'NOT_INCLUDED',
        `event seq ${seq}: the inclusion proof does not lead to the anchored root of size ${anchored.treeSize}`,
      );
    }
    if (listed.has(entry as ProofEntry)) progress.checked++;
  }
}

/** Subject, then order, then range, then links (FORMAT.md §10 order), then the subject's head (§13.5). */
function checkHistory(b: ProofBundle, anchored: AnchoredCheckpoint): { message: string; completeness: Completeness } {
  const subject = b.subject!;
  const range = b.range!;
  const previous = b.previous ?? null;
  const next = b.next ?? null;
  const events = b.events.map((e) => e.event);
  const all = [...(previous ? [previous.event] : []), ...events, ...(next ? [next.event] : [])];
  // An erased previous keeps no subjects: it is the subject's because the next listed event, whose hash covers its links, links to it.
  const erasedBefore = previous && isErased(previous.event) ? previous.event : undefined;

  for (const e of all) {
    if (isErased(e)) continue;
    if (!e.subjects.includes(subject) || !Object.hasOwn(e.links, subject)) {
      throw new ProofError('OUT_OF_RANGE', `event seq ${e.seq} is not about ${subject}`);
    }
  }
  for (let i = 1; i < all.length; i++) {
    if (all[i].seq <= all[i - 1].seq) {
      throw new ProofError(
        'HISTORY_ORDER',
        `event seq ${all[i].seq} comes after seq ${all[i - 1].seq}; sequence numbers must increase`,
      );
    }
  }
  const from = Date.parse(range.from);
  const to = Date.parse(range.to);
  for (const e of events) {
    const t = Date.parse(e.at);
    if (t < from || t > to)
      throw new ProofError('OUT_OF_RANGE', `event seq ${e.seq} at ${e.at} is outside ${range.from} – ${range.to}`);
  }
  if (previous && Date.parse(previous.event.at) >= from) {
    throw new ProofError(
      'OUT_OF_RANGE',
      `previous event seq ${previous.event.seq} at ${previous.event.at} is not before ${range.from}`,
    );
  }
  if (next && Date.parse(next.event.at) <= to) {
    throw new ProofError(
      'OUT_OF_RANGE',
      `next event seq ${next.event.seq} at ${next.event.at} is not after ${range.to}`,
    );
  }

  let before: { seq: number; hash: string } | null = previous?.event ?? null;
  for (const e of events) {
    const link = e.links[subject];
    if (link !== (before?.hash ?? null)) {
      throw new ProofError(
        'HISTORY_GAP',
        before
          ? `event seq ${e.seq} does not link to seq ${before.seq}: an event of ${subject} between them is missing`
          : `event seq ${e.seq} links to an earlier event of ${subject}, but the bundle names no previous event`,
      );
    }
    before = e;
  }
  if (next && next.event.links[subject] !== (before?.hash ?? null)) {
    throw new ProofError(
      'HISTORY_GAP',
      before
        ? `next event seq ${next.event.seq} does not link to seq ${before.seq}: an event of ${subject} between them is missing`
        : `next event seq ${next.event.seq} links to an earlier event of ${subject}, but the bundle names no previous event`,
    );
  }

  const head = b.format === PROOF_BUNDLE_FORMAT ? checkHead(b, all) : undefined;

  const n = events.length;
  const what = `${n} ${n === 1 ? 'event' : 'events'} of ${subject} from ${range.from} to ${range.to} ${n === 1 ? 'is' : 'are'}`;
  const where = `included in checkpoint ${b.checkpoint.index} (size ${anchored.treeSize})`;
  const last = all[all.length - 1];
  let message: string;
  if (erasedBefore && !events.length && !next && !head) {
    message = `${what} ${where}; the subject's events up to seq ${erasedBefore.seq} were erased by retention (event ${erasedBefore.erased.by}), and no later event is named`;
  } else if (next?.event.type === SEAL_EVENT)
    message = `${what} ${where} and the history has no gaps; no event of ${subject} follows until its seal at seq ${next.event.seq}`;
  else if (next) message = `${what} ${where} and the history has no gaps`;
  else if (head && last)
    message = `${what} ${where} and the history has no gaps up to seq ${last.seq}, the last of the ${head.count} ${head.count === 1 ? 'event' : 'events'} of ${subject} in the checkpoint's subject map`;
  else if (head) message = `${what} ${where}; the checkpoint's subject map holds no event of ${subject}`;
  else if (last)
    message = `${what} ${where} and the history has no gaps up to seq ${last.seq}; no later event is named, so the links cannot show that none followed`;
  else
    message = `${what} ${where}; the bundle names no event of ${subject} at all, so the links prove nothing about the range`;
  if (erasedBefore)
    message += `; the history starts after seq ${erasedBefore.seq}, which retention erased (event ${erasedBefore.erased.by}) with the subject's events before it`;
  return { message, completeness: completenessOf(b, anchored, !!head) };
}

/**
 * The subject's head proves into the checkpoint's map root, and the entries agree with it
 * (FORMAT.md §13.5): no more entries than the map counts; with no `next`, the last entry is
 * the head; from the first event (no `previous`) to the head, exactly `count` events.
 */
function checkHead(b: ProofBundle, all: Array<LedgerEvent | ErasedEvent>): SubjectHeadEntry {
  const subject = b.subject!;
  const cp = b.checkpoint;
  const h = b.subjectHead!;
  const proven = verifySubjectProof(fromHex(cp.mapRoot!), subject, { count: h.count, head: h.head }, h.proof);
  if (!proven.valid) {
    throw new ProofError(
      'HEAD_NOT_PROVEN',
      `the head of ${subject} (count ${h.count}) does not prove into the map root of checkpoint ${cp.index}: ${proven.message}`,
    );
  }
  const events = b.events.length;
  const size = `size ${cp.treeSize}`;
  if (h.count < all.length) {
    throw new ProofError(
      'HEAD_MISMATCH',
      `the subject map counts ${h.count} events of ${subject} up to ${size}, but the bundle names ${all.length}`,
    );
  }
  if (b.next) return h;
  const last = all[all.length - 1];
  if (!last) {
    if (h.count > 0)
      throw new ProofError(
        'HEAD_MISMATCH',
        `the subject map counts ${h.count} events of ${subject} up to ${size}, the last ${h.head}, but the bundle names none`,
      );
    return h;
  }
  if (last.hash !== h.head) {
    throw new ProofError(
      'HEAD_MISMATCH',
      `seq ${last.seq} is not the last event of ${subject} up to ${size}: the subject map's head is ${h.head} (event ${h.count} of ${subject}), so a later event was left out`,
    );
  }
  if (!b.previous && h.count !== events) {
    throw new ProofError(
      'HEAD_MISMATCH',
      `the bundle holds ${events} ${events === 1 ? 'event' : 'events'} of ${subject} from its first to its head, but the subject map counts ${h.count}: its chain is forked, or events were left out`,
    );
  }
  return h;
}

function completenessOf(b: ProofBundle, anchored: AnchoredCheckpoint, headChecked: boolean): Completeness {
  const cp = `checkpoint ${b.checkpoint.index} (size ${anchored.treeSize})`;
  if (!headChecked) {
    return {
      code: 'FORMAT_1',
      reason: `the bundle is ${PROOF_BUNDLE_FORMAT_1}: it carries no subject head, so completeness is unknown`,
    };
  }
  if (anchored.cosigned !== true) {
    return {
      code: 'NOT_COSIGNED',
      reason: `${cp} is not known to be cosigned by witnesses; without them the issuer's operator could have forked ${b.subject}'s chain and left events out`,
    };
  }
  const root = anchored.mapRoot ? 'its map root as read from the chain' : 'the map root the bundle names';
  const scope = b.next
    ? `is in the bundle (seq ${b.next.event.seq} closes the range)`
    : `among its first ${anchored.treeSize} is in the bundle`;
  return {
    code: 'COMPLETE',
    reason: `every event of ${b.subject} from ${b.range!.from} to ${b.range!.to} ${scope}: witnesses cosigned ${cp} with ${root}`,
  };
}

/** The event type of a seal (FORMAT.md §10): an issuer's record that closes a subject's history so far. */
export const SEAL_EVENT = 'audit.sealed';

/** Leaf hash of an event in its issuer's log (FORMAT.md §10): SHA-256(0x00 ‖ the 32-byte event hash). */
export function eventLeafHash(event: Pick<LedgerEvent, 'hash'>): Uint8Array {
  return hashLeaf(fromHex(event.hash));
}
