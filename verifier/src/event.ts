import { sha256 } from './sha256';
import { concatBytes, fromHex, toHex, utf8 } from './bytes';
import { nodeCrypto } from './runtime';

/** A JSON value as ledger events carry it: no floats beyond what JSON.stringify prints exactly. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * One ledger event as it is hashed and proven. Events are pseudonymous: subjects are
 * `r:<pseudonym>` (a resident), `v:<venue id>` (a venue) or a system subject such as `rules`.
 */
export interface LedgerEventBody {
  seq: number;
  type: string;
  /** RFC 3339 UTC with milliseconds. */
  at: string;
  /** Sorted, unique subjects this event belongs to; each has its own hash chain. */
  subjects: string[];
  /** For each subject, the hash of that subject's previous event, or null for its first. */
  links: Record<string, string | null>;
  /** The hash of the previous event in the whole log (64 zeros before the first). */
  prev: string;
  data: { [key: string]: JsonValue };
}

export interface LedgerEvent extends LedgerEventBody {
  /** 16 random bytes (hex) mixed into the hash so that hashes reveal nothing guessable. */
  salt: string;
  /** SHA-256(salt ‖ canonicalJson(body)), hex: the event's commitment and chain link. */
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

/**
 * JSON with object keys sorted by UTF-16 code units and no whitespace (the RFC 8785 JCS
 * ordering; numbers are integers or decimals that JSON.stringify prints canonically).
 * @throws TypeError for values JSON cannot carry (undefined, functions, non-finite numbers)
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('non-finite number in canonical JSON');
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      // String building without intermediate arrays: this runs for every ledger event.
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJson(value[i]);
        return out + ']';
      }
      const obj = value as Record<string, unknown>;
      let out = '{';
      let first = true;
      for (const k of Object.keys(obj).sort()) {
        if (obj[k] === undefined) continue;
        out += (first ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(obj[k]);
        first = false;
      }
      return out + '}';
    }
    default:
      throw new TypeError(`cannot put ${typeof value} in canonical JSON`);
  }
}

const EVEN_HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** The event's hash: SHA-256 over its salt followed by the canonical JSON of its body. */
export function hashEvent(body: LedgerEventBody, saltHex: string): string {
  const { seq, type, at, subjects, links, prev, data } = body;
  const json = canonicalJson({ seq, type, at, subjects, links, prev, data });
  // Under Node, OpenSSL takes the salt and the text in their own encodings: no byte arrays
  // are built and copied in JS (this runs for every event the ledger appends or checks).
  // Node's hex decoding stops at a bad digit where fromHex refuses, so only plain hex goes this way.
  if (nodeCrypto && EVEN_HEX.test(saltHex))
    return nodeCrypto.createHash('sha256').update(saltHex, 'hex').update(json, 'utf8').digest('hex');
  return toHex(sha256(concatBytes(fromHex(saltHex), utf8(json))));
}

/**
 * An event erased by retention (FORMAT.md §12.1): its body's personal part and its salt are
 * gone, so its hash can no longer be recomputed; the hash stays, so it remains a leaf of the
 * log and a link of the chain. `erased.by` is the `retention.erased` event that erased it.
 */
export interface ErasedEvent {
  seq: number;
  type: string;
  at: string;
  prev: string;
  hash: string;
  erased: { by: number };
}

/** The type of the event that records an erasure (FORMAT.md §12.1). */
export const ERASURE_EVENT = 'retention.erased';

/** Whether a stored event is an erased one (no subjects, links, data or salt). */
export function isErased(e: LedgerEvent | ErasedEvent): e is ErasedEvent {
  return typeof (e as ErasedEvent).erased === 'object' && (e as ErasedEvent).erased !== null;
}

/**
 * The digest a `retention.erased` event carries over the sequence numbers it erased:
 * SHA-256 of the canonical JSON of the ascending list, hex.
 */
export function erasureDigest(seqs: readonly number[]): string {
  return toHex(sha256(utf8(canonicalJson([...seqs]))));
}
