import { fromBase64Url, fromHex, toHex } from './bytes';
import { decodeCbor, encodeCbor, type CborMap, type CborValue } from './cbor';
import { malformed } from './errors';

/** Risk colours in code order: the CBOR value is the index. */
export const COLOURS = ['green', 'yellow', 'red'] as const;
export type Colour = (typeof COLOURS)[number];
export const MODES = ['dynamic', 'printed'] as const;
export type CodeMode = (typeof MODES)[number];
export const VENUE_TYPES = [
  'residential-community',
  'enterprise',
  'crowded-place',
  'public-service',
  'transport',
  'school',
  'border',
] as const;
export type VenueType = (typeof VENUE_TYPES)[number];

// CWT claim keys (RFC 8392 §3.1.1) and AK1's private claims.
const ISS = 1;
const SUB = 2;
const EXP = 4;
const IAT = 6;
const CTI = 7;
export const HEALTH_CLAIM = -65537;
export const VENUE_CLAIM = -65538;

interface CommonClaims {
  /** GB/T 2260 region code of the issuer, e.g. "340000". */
  iss: string;
  /** Seconds since the Unix epoch. */
  iat: number;
  exp: number;
  /** 8-byte code id as 16 lowercase hex characters. */
  cti: string;
}

export interface HealthInfo {
  colour: Colour;
  ruleVersion: number;
  statusIndex: number;
  /** e.g. "张*明"; never a full name. */
  maskedName: string;
  /** Last four characters of the ID document. */
  idLast4: string;
  mode: CodeMode;
}

export interface VenueInfo {
  id: string;
  type: VenueType;
  name: string;
  /** GB/T 2260 code of the venue's district. */
  district: string;
}

export interface ResidentClaims extends CommonClaims {
  kind: 'resident';
  /**
   * Absent: a resident code carries no stable identifier (FORMAT.md §4). Present only in a
   * code of the first revision (the resident's 12-byte pseudonym, base64url), which
   * verifiers accept only when issued before `RESIDENT_SUB_CUTOVER`.
   */
  sub?: string;
  health: HealthInfo;
}

export interface VenueClaims extends CommonClaims {
  kind: 'venue';
  /** The venue id (base64url of 12 bytes), equal to `venue.id`. */
  sub: string;
  venue: VenueInfo;
}

/**
 * The format revision's cut-over (FORMAT.md §4): a resident code issued at or after this
 * instant (`iat`, seconds) must not carry `sub`; one issued before it may, and lives at most
 * 30 days (§4.3), so old codes leave circulation by themselves.
 */
export const RESIDENT_SUB_CUTOVER = Date.parse('2026-12-01T00:00:00Z') / 1000;

/** Whether a resident code's `sub` breaks the cut-over: present, in a code issued at or after `RESIDENT_SUB_CUTOVER`. */
export function subNotAllowed(claims: CodeClaims): boolean {
  return claims.kind === 'resident' && claims.sub !== undefined && claims.iat >= RESIDENT_SUB_CUTOVER;
}

export type CodeClaims = ResidentClaims | VenueClaims;

const REGION = /^[1-9][0-9]{5}$/;
const LAST4 = /^[0-9A-Z]{4}$/;

function uint(v: CborValue | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw malformed(`${what} must be an unsigned integer`);
  return v;
}

function text(v: CborValue | undefined, what: string, maxChars = 64): string {
  if (typeof v !== 'string' || v.length === 0 || [...v].length > maxChars) {
    throw malformed(`${what} must be text of 1 to ${maxChars} characters`);
  }
  return v;
}

function region(v: CborValue | undefined, what: string): string {
  const s = text(v, what, 6);
  if (!REGION.test(s)) throw malformed(`${what} must be a 6-digit GB/T 2260 region code`);
  return s;
}

// A format-level privacy guard: a name without a mask character is refused outright.
function maskedName(v: CborValue | undefined): string {
  const s = text(v, 'masked name', 32);
  if (!s.includes('*')) throw malformed('masked name must contain "*"');
  return s;
}

function exactKeys(m: CborMap, keys: number[], what: string): void {
  for (const k of keys) if (!m.has(k)) throw malformed(`${what} is missing key ${k}`);
  if (m.size !== keys.length) throw malformed(`${what} has keys other than ${keys.join(', ')}`);
}

function pseudonym(v: CborValue | undefined, what: string): string {
  const s = text(v, what, 16);
  if (fromBase64Url(s, what).length !== 12) throw malformed(`${what} must be base64url of 12 bytes`);
  return s;
}

/** Validates claims against FORMAT.md §4 and returns them; used before encoding and after decoding. */
export function checkClaims(c: CodeClaims): CodeClaims {
  return decodeClaims(encodeClaims(c));
}

/**
 * Encodes claims as the CWT payload (deterministic CBOR).
 * @throws VerifierError MALFORMED when a claim is out of its range
 */
export function encodeClaims(c: CodeClaims): Uint8Array {
  const m: CborMap = new Map<number, CborValue>([
    [ISS, c.iss],
    ...(c.sub !== undefined ? ([[SUB, c.sub]] as const) : []),
    [EXP, c.exp],
    [IAT, c.iat],
    [CTI, fromHex(c.cti)],
  ]);
  if (c.kind === 'resident') {
    const h = c.health;
    const colour = COLOURS.indexOf(h.colour);
    const mode = MODES.indexOf(h.mode);
    if (colour < 0) throw malformed(`unknown colour ${String(h.colour)}`);
    if (mode < 0) throw malformed(`unknown mode ${String(h.mode)}`);
    m.set(
      HEALTH_CLAIM,
      new Map<number, CborValue>([
        [1, colour],
        [2, h.ruleVersion],
        [3, h.statusIndex],
        [4, h.maskedName],
        [5, h.idLast4],
        [6, mode],
      ]),
    );
  } else {
    const v = c.venue;
    if (!VENUE_TYPES.includes(v.type)) throw malformed(`unknown venue type ${String(v.type)}`);
    m.set(
      VENUE_CLAIM,
      new Map<number, CborValue>([
        [1, v.id],
        [2, VENUE_TYPES.indexOf(v.type)],
        [3, v.name],
        [4, v.district],
      ]),
    );
  }
  const bytes = encodeCbor(m);
  decodeClaims(bytes);
  return bytes;
}

/**
 * Decodes and validates a CWT payload.
 * @throws VerifierError MALFORMED for a missing, extra or mistyped claim
 */
export function decodeClaims(payload: Uint8Array): CodeClaims {
  const m = decodeCbor(payload);
  if (!(m instanceof Map)) throw malformed('CWT payload must be a map');
  const kind = m.has(HEALTH_CLAIM) ? 'resident' : m.has(VENUE_CLAIM) ? 'venue' : undefined;
  if (!kind) throw malformed('CWT payload has neither the health claim (-65537) nor the venue claim (-65538)');
  // A venue code names its venue in sub; a resident code carries none, except one of the first revision (§4).
  const withSub = kind === 'venue' || m.has(SUB);
  exactKeys(
    m,
    [ISS, ...(withSub ? [SUB] : []), EXP, IAT, CTI, kind === 'resident' ? HEALTH_CLAIM : VENUE_CLAIM],
    'CWT payload',
  );
  const cti = m.get(CTI);
  if (!(cti instanceof Uint8Array) || cti.length !== 8) throw malformed('cti must be an 8-byte string');
  const sub = withSub ? pseudonym(m.get(SUB), 'sub') : undefined;
  const common = {
    iss: region(m.get(ISS), 'iss'),
    exp: uint(m.get(EXP), 'exp'),
    iat: uint(m.get(IAT), 'iat'),
    cti: toHex(cti),
  };
  if (common.exp <= common.iat) throw malformed('exp must be after iat');
  if (kind === 'resident') {
    const h = m.get(HEALTH_CLAIM);
    if (!(h instanceof Map)) throw malformed('health claim must be a map');
    exactKeys(h, [1, 2, 3, 4, 5, 6], 'health claim');
    const colour = COLOURS[uint(h.get(1), 'colour')];
    const mode = MODES[uint(h.get(6), 'mode')];
    if (!colour) throw malformed('colour must be 0, 1 or 2');
    if (!mode) throw malformed('mode must be 0 or 1');
    const idLast4 = text(h.get(5), 'ID tail', 4);
    if (!LAST4.test(idLast4)) throw malformed('ID tail must be four characters 0-9 or A-Z');
    return {
      kind,
      ...common,
      ...(sub !== undefined ? { sub } : {}),
      health: {
        colour,
        ruleVersion: uint(h.get(2), 'rule version'),
        statusIndex: uint(h.get(3), 'status index'),
        maskedName: maskedName(h.get(4)),
        idLast4,
        mode,
      },
    };
  }
  const v = m.get(VENUE_CLAIM);
  if (!(v instanceof Map)) throw malformed('venue claim must be a map');
  exactKeys(v, [1, 2, 3, 4], 'venue claim');
  const type = VENUE_TYPES[uint(v.get(2), 'venue type')];
  if (!type) throw malformed(`venue type must be 0 to ${VENUE_TYPES.length - 1}`);
  const id = text(v.get(1), 'venue id', 16);
  if (id !== sub) throw malformed('venue id must equal sub');
  return {
    kind,
    ...common,
    sub,
    venue: { id, type, name: text(v.get(3), 'venue name', 32), district: region(v.get(4), 'venue district') },
  };
}
