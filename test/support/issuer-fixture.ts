import * as crypto from 'node:crypto';
import {
  computeKid,
  signCode,
  signStatusList,
  toBase64Url,
  toHex,
  trustListKey,
  type CodeClaims,
  type HealthInfo,
  type ResidentClaims,
  type Signer,
  type TrustListJson,
  type TrustListKeyJson,
  type VenueClaims,
  type VenueInfo,
} from '../../verifier/src';

/** A throwaway provincial issuer: an Ed25519 key, its trust-list entry and helpers to sign with it. */
export interface TestIssuer {
  id: string;
  name: string;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  privateKey: crypto.KeyObject;
  kid: Uint8Array;
  /** base64url kid, as the trust list spells it. */
  kidText: string;
  signer: Signer;
  trustListKey: TrustListKeyJson;
  trustListEntry: TrustListJson['issuers'][number];
  /** Signs claims and returns the `AK1:` text. */
  sign(claims: CodeClaims): Promise<string>;
  residentClaims(overrides?: ResidentOverrides): ResidentClaims;
  venueClaims(overrides?: VenueOverrides): VenueClaims;
  /** Signs a status list; `statuses` holds one value 0..3 (green, yellow, red, suspended) per index. */
  signStatusList(input: { issuedAt: number; statuses: ArrayLike<number> }): Promise<Uint8Array>;
}

export type ResidentOverrides = Partial<Omit<ResidentClaims, 'kind' | 'health'>> & { health?: Partial<HealthInfo> };
export type VenueOverrides = Partial<Omit<VenueClaims, 'kind' | 'venue'>> & { venue?: Partial<VenueInfo> };

export interface TestIssuerOptions {
  id?: string;
  name?: string;
  notBefore?: string;
  notAfter?: string;
  /** 32-byte private seed, for a reproducible key; random when absent. */
  seed?: Uint8Array;
}

// DER prefixes that turn a raw Ed25519 seed into PKCS#8 and an SPKI export into the raw key (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX_LENGTH = 12;

/**
 * 2026-11-28T10:30:00Z (18:30 in Shanghai): pass it as `iat` together with a matching
 * `now` for output that does not depend on the wall clock. Claims default to the wall clock.
 */
export const FIXED_IAT = Date.UTC(2026, 10, 28, 10, 30, 0) / 1000;

/** A random base64url pseudonym of 12 bytes (the `sub` of a resident or the id of a venue). */
export function randomPseudonym(): string {
  return toBase64Url(crypto.randomBytes(12));
}

/** Creates an issuer with a fresh (or seeded) Ed25519 key. */
export function createTestIssuer(options: TestIssuerOptions = {}): TestIssuer {
  const id = options.id ?? '340000';
  const name = options.name ?? '安徽省';
  const privateKey = options.seed
    ? crypto.createPrivateKey({
        key: Buffer.concat([PKCS8_PREFIX, Buffer.from(options.seed)]),
        format: 'der',
        type: 'pkcs8',
      })
    : crypto.generateKeyPairSync('ed25519').privateKey;
  const spki = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(spki.subarray(SPKI_PREFIX_LENGTH));
  const kid = computeKid(publicKey);
  const signer: Signer = { kid, sign: (m) => new Uint8Array(crypto.sign(null, m, privateKey)) };
  const key = trustListKey(
    publicKey,
    options.notBefore ?? '2020-01-01T00:00:00Z',
    options.notAfter ?? '2099-12-31T23:59:59Z',
  );

  const common = (o: Partial<CodeClaims>) => {
    const iat = o.iat ?? Math.floor(Date.now() / 1000) - 60;
    return { iss: o.iss ?? id, iat, exp: o.exp ?? iat + 3600, cti: o.cti ?? toHex(crypto.randomBytes(8)) };
  };

  return {
    id,
    name,
    publicKey,
    privateKey,
    kid,
    kidText: toBase64Url(kid),
    signer,
    trustListKey: key,
    trustListEntry: { id, name, keys: [key] },
    sign: (claims) => signCode(claims, signer),
    residentClaims(overrides = {}) {
      return {
        kind: 'resident',
        ...common(overrides),
        ...(overrides.sub !== undefined ? { sub: overrides.sub } : {}),
        health: {
          colour: 'green',
          ruleVersion: 1,
          statusIndex: 0,
          maskedName: '张*明',
          idLast4: '123X',
          mode: 'dynamic',
          ...overrides.health,
        },
      };
    },
    venueClaims(overrides = {}) {
      const venueId = overrides.venue?.id ?? overrides.sub ?? randomPseudonym();
      return {
        kind: 'venue',
        ...common(overrides),
        sub: venueId,
        venue: { type: 'school', name: '合肥市第一中学', district: '340104', ...overrides.venue, id: venueId },
      };
    },
    signStatusList: (input) => signStatusList({ iss: id, ...input }, signer),
  };
}

/** A trust list holding the given issuers, issued at `issuedAt` (default 2026-01-01). */
export function buildTrustList(issuers: TestIssuer[], issuedAt = '2026-01-01T00:00:00Z'): TrustListJson {
  return { format: 'ankang-trust-list/1', issuedAt, issuers: issuers.map((i) => i.trustListEntry) };
}
