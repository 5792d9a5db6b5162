import { equalBytes, fromHex, toHex } from './bytes';
import { GENESIS_HASH, hashEvent, type LedgerEvent } from './event';
import { CompactRange, hashLeaf } from './merkle';
import { SubjectMap, type SubjectHead } from './subject-map';

/**
 * A witness's check of an issuer's checkpoint (FORMAT.md §13.3). A witness has checked the
 * issuer's log from its first event; for each new checkpoint it fetches the events since the
 * last one it cosigned and cosigns (size, root, mapRoot) only when every one of them extends
 * the log honestly: its hash recomputes, it follows the previous event, it is not older than
 * it, and each of its subjects links to that subject's current head (null only for a
 * subject's first event). A fork — an event linking a subject back past its head, or a
 * second null link — is refused here, before any checkpoint covering it is cosigned.
 */

/** Why a witness refuses to cosign; `seq` names the event where one is at fault. */
export type WitnessRefusalCode =
  /** The checkpoint or an event does not have the form of FORMAT.md §10/§13. */
  | 'MALFORMED'
  /** The checkpoint is another issuer's than the state's. */
  | 'WRONG_ISSUER'
  /** The checkpoint is smaller than the one the witness last cosigned. */
  | 'SIZE_REGRESSED'
  /** The events are not exactly seqs size + 1 … newSize, in order. */
  | 'EVENTS_MISSING'
  /** An event's hash does not recompute from its body and salt. */
  | 'EVENT_ALTERED'
  /** An event's `prev` is not the hash of the event before it. */
  | 'PREV_MISMATCH'
  /** An event's `at` is earlier than the event before it. */
  | 'TIME_REVERSED'
  /** An event links a subject to something other than the subject's head: a fork, or a second null link. */
  | 'FORKED_SUBJECT'
  /** The RFC 6962 root of the extended log is not the checkpoint's. */
  | 'ROOT_MISMATCH'
  /** The subject heads map after the events is not the checkpoint's map root. */
  | 'MAP_MISMATCH';

/** What a witness cosigns: a checkpoint of an issuer's log, with the root of its subject heads map. */
export interface CheckpointStatement {
  /** GB/T 2260 region code of the issuer. */
  issuer: string;
  treeSize: number;
  /** RFC 6962 root of the first `treeSize` events, 64 lower-case hex digits. */
  root: string;
  /** Subject heads map root at `treeSize` (§13.1), 64 lower-case hex digits. */
  mapRoot: string;
}

/** Everything a witness keeps for one issuer: the log it has checked so far, up to its last cosigned checkpoint. */
export interface WitnessState {
  issuer: string;
  /** How many events the witness has checked (0 before the first checkpoint). */
  treeSize: number;
  /** The hash of event `treeSize` (64 zeros at 0): the next event's `prev`. */
  lastHash: string;
  /** The `at` of event `treeSize` ('' at 0): the next event is not earlier. */
  lastAt: string;
  /** The right edge of the issuer's RFC 6962 log over those events. */
  log: CompactRange;
  /** The subject heads map over those events. */
  map: SubjectMap;
}

export type WitnessVerdict =
  | { cosign: true; statement: CheckpointStatement; state: WitnessState }
  | { cosign: false; code: WitnessRefusalCode; message: string; seq?: number; subject?: string };

/** The state of a witness that has checked nothing yet: it starts from the issuer's first event. */
export function initialWitnessState(issuer: string): WitnessState {
  return { issuer, treeSize: 0, lastHash: GENESIS_HASH, lastAt: '', log: new CompactRange(), map: SubjectMap.empty() };
}

/** The statement the state stands for: what the witness last cosigned (or would, at size 0). */
export function witnessStatement(state: WitnessState): CheckpointStatement {
  return {
    issuer: state.issuer,
    treeSize: state.treeSize,
    root: toHex(state.log.root()),
    mapRoot: toHex(state.map.root()),
  };
}

const HEX64 = /^[0-9a-f]{64}$/;
const SALT = /^[0-9a-f]{32}$/;
const EVENT_KEYS = ['seq', 'type', 'at', 'subjects', 'links', 'prev', 'data', 'salt', 'hash'];
const RFC3339_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

class Refusal extends Error {
  constructor(
    readonly code: WitnessRefusalCode,
    message: string,
    readonly seq?: number,
    readonly subject?: string,
  ) {
    super(message);
  }
}

/**
 * Checks the events (state.treeSize, checkpoint.treeSize] of an issuer against the checkpoint,
 * in the order of FORMAT.md §13.3, and returns either the statement to cosign with the
 * witness's next state, or the first refusal with the seq at fault. The state passed in is
 * never changed: keep the new one only when cosigning.
 * Never throws: bad input is a `MALFORMED` refusal.
 * @param events every event after the state's size up to the checkpoint's, as GET /v1/log/events serves them
 * @example
 * const v = checkCheckpoint(state, { issuer, treeSize, root, mapRoot }, events);
 * if (v.cosign) { state = v.state; sign(v.statement); } else alert(v.code, v.seq, v.message);
 */
export function checkCheckpoint(
  state: WitnessState,
  checkpoint: CheckpointStatement,
  events: readonly LedgerEvent[],
): WitnessVerdict {
  try {
    return { cosign: true, ...extend(state, checkpoint, events) };
  } catch (e) {
    if (e instanceof Refusal) {
      return {
        cosign: false,
        code: e.code,
        message: e.message,
        ...(e.seq !== undefined ? { seq: e.seq } : {}),
        ...(e.subject !== undefined ? { subject: e.subject } : {}),
      };
    }
    return { cosign: false, code: 'MALFORMED', message: 'the checkpoint or the events could not be read' };
  }
}

function extend(
  state: WitnessState,
  cp: CheckpointStatement,
  events: readonly LedgerEvent[],
): { statement: CheckpointStatement; state: WitnessState } {
  if (typeof cp !== 'object' || cp === null)
    throw new Refusal('MALFORMED', 'the checkpoint must be { issuer, treeSize, root, mapRoot }');
  if (cp.issuer !== state.issuer)
    throw new Refusal(
      'WRONG_ISSUER',
      `the checkpoint is issuer ${cp.issuer}'s; this state is issuer ${state.issuer}'s`,
    );
  if (!Number.isSafeInteger(cp.treeSize) || cp.treeSize < 0)
    throw new Refusal('MALFORMED', 'checkpoint.treeSize must be a non-negative integer');
  if (typeof cp.root !== 'string' || !HEX64.test(cp.root))
    throw new Refusal('MALFORMED', 'checkpoint.root must be 64 lower-case hex digits');
  if (typeof cp.mapRoot !== 'string' || !HEX64.test(cp.mapRoot))
    throw new Refusal('MALFORMED', 'checkpoint.mapRoot must be 64 lower-case hex digits');
  if (cp.treeSize < state.treeSize) {
    throw new Refusal(
      'SIZE_REGRESSED',
      `the checkpoint has ${cp.treeSize} events, fewer than the ${state.treeSize} already cosigned`,
    );
  }
  if (!Array.isArray(events)) throw new Refusal('MALFORMED', 'events must be an array');
  const want = cp.treeSize - state.treeSize;
  for (let i = 0; i < Math.min(events.length, want); i++) {
    const seq = state.treeSize + 1 + i;
    if (typeof events[i] !== 'object' || events[i] === null || events[i].seq !== seq) {
      throw new Refusal('EVENTS_MISSING', `event ${i} of the batch should be seq ${seq}`, seq);
    }
  }
  if (events.length !== want) {
    throw new Refusal(
      'EVENTS_MISSING',
      `the checkpoint adds seqs ${state.treeSize + 1}–${cp.treeSize} (${want} events), but ${events.length} were given`,
    );
  }

  const log = state.log.clone();
  // Heads changed by this batch, over the state's map; the map itself is never written.
  const heads = new Map<string, SubjectHead>();
  let lastHash = state.lastHash;
  let lastAt = state.lastAt;
  for (const e of events) {
    checkShape(e);
    const { seq, type, at, subjects, links, prev, data, salt, hash } = e;
    let recomputed: string;
    try {
      recomputed = hashEvent({ seq, type, at, subjects, links, prev, data }, salt);
    } catch {
      throw new Refusal('MALFORMED', `event seq ${seq}: data holds a value JSON cannot carry`, seq);
    }
    if (recomputed !== hash) {
      throw new Refusal('EVENT_ALTERED', `event seq ${seq}: its hash does not recompute from its body and salt`, seq);
    }
    if (prev !== lastHash)
      throw new Refusal('PREV_MISMATCH', `event seq ${seq}: prev is not the hash of seq ${seq - 1}`, seq);
    if (at < lastAt)
      throw new Refusal('TIME_REVERSED', `event seq ${seq} at ${at} is earlier than seq ${seq - 1} at ${lastAt}`, seq);
    for (const s of subjects) {
      const current = heads.get(s) ?? state.map.get(s);
      const link = links[s];
      if (link !== current.head) {
        throw new Refusal('FORKED_SUBJECT', forkMessage(seq, s, link, current), seq, s);
      }
      heads.set(s, { count: current.count + 1, head: hash });
    }
    log.append(hashLeaf(fromHex(hash)));
    lastHash = hash;
    lastAt = at;
  }

  const root = log.root();
  if (!equalBytes(root, fromHex(cp.root))) {
    throw new Refusal(
      'ROOT_MISMATCH',
      `the log of ${cp.treeSize} events has root ${toHex(root)}, not the checkpoint's ${cp.root}`,
    );
  }
  const map = state.map.with(heads);
  const mapRoot = map.root();
  if (!equalBytes(mapRoot, fromHex(cp.mapRoot))) {
    throw new Refusal(
      'MAP_MISMATCH',
      `the subject heads map of ${cp.treeSize} events has root ${toHex(mapRoot)}, not the checkpoint's ${cp.mapRoot}`,
    );
  }
  return {
    statement: { issuer: cp.issuer, treeSize: cp.treeSize, root: cp.root, mapRoot: cp.mapRoot },
    state: { issuer: state.issuer, treeSize: cp.treeSize, lastHash, lastAt, log, map },
  };
}

function forkMessage(seq: number, subject: string, link: string | null, current: SubjectHead): string {
  if (link === null) {
    return `event seq ${seq} gives ${subject} a null link (a first event), but ${subject} already has ${current.count} ${current.count === 1 ? 'event' : 'events'}, the last ${current.head}`;
  }
  if (current.head === null)
    return `event seq ${seq} links ${subject} to ${link}, but ${subject} has no event before it`;
  return `event seq ${seq} links ${subject} to ${link}, not to its head ${current.head} (event ${current.count} of ${subject}): a fork`;
}

/** The event's form (FORMAT.md §10), plus what the map needs: subjects unique and sorted, one link per subject. */
function checkShape(e: LedgerEvent): void {
  const seq = e.seq;
  const bad = (what: string) => new Refusal('MALFORMED', `event seq ${seq}: ${what}`, seq);
  const extra = Object.keys(e).find((k) => !EVENT_KEYS.includes(k));
  if (extra !== undefined) throw bad(`it has a member "${extra}" that the hash does not cover`);
  if (typeof e.type !== 'string' || e.type === '') throw bad('type must be a non-empty string');
  if (typeof e.at !== 'string' || !RFC3339_UTC_MS.test(e.at) || Number.isNaN(Date.parse(e.at)))
    throw bad('at must be an RFC 3339 UTC time with milliseconds');
  if (!Array.isArray(e.subjects) || !e.subjects.every((s) => typeof s === 'string'))
    throw bad('subjects must be an array of strings');
  for (let i = 1; i < e.subjects.length; i++) {
    if (!(e.subjects[i - 1] < e.subjects[i])) throw bad('subjects must be sorted and unique');
  }
  if (typeof e.links !== 'object' || e.links === null || Array.isArray(e.links)) throw bad('links must be an object');
  const keys = Object.keys(e.links);
  if (keys.length !== e.subjects.length || !e.subjects.every((s) => Object.hasOwn(e.links, s)))
    throw bad('links must have one entry per subject, and no other');
  for (const s of e.subjects) {
    const v = e.links[s];
    if (v !== null && (typeof v !== 'string' || !HEX64.test(v)))
      throw bad(`links["${s}"] must be 64 hex digits or null`);
  }
  if (typeof e.prev !== 'string' || !HEX64.test(e.prev)) throw bad('prev must be 64 lower-case hex digits');
  if (typeof e.data !== 'object' || e.data === null || Array.isArray(e.data)) throw bad('data must be an object');
  if (typeof e.salt !== 'string' || !SALT.test(e.salt)) throw bad('salt must be 32 lower-case hex digits');
  if (typeof e.hash !== 'string' || !HEX64.test(e.hash)) throw bad('hash must be 64 lower-case hex digits');
}
