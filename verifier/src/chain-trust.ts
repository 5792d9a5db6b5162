import { fromHex, toBase64Url } from './bytes';
import { LONGEST_CODE_LIFETIME_SECONDS } from './lifetime';
import { toRfc3339 } from './time';
import { DEFAULT_CLOCK_SKEW_SECONDS } from './verify';
import { TRUST_LIST_FORMAT, type RevokedKeyJson, type TrustListJson, type TrustListKeyJson } from './trust-list';

/** One issuer as the AnchorRegistry's views describe it (hex as the chain returns it). */
export interface RegistryIssuer {
  /** GB/T 2260 region code as a number, e.g. 340000. */
  id: number;
  name: string;
  statusListUrl: string;
  keys: Array<{ kid: string; publicKey: string; notBefore: number; notAfter: number; revokedAt: number }>;
  /** Unix seconds since the council suspended the issuer; 0 or absent while it is not suspended. */
  suspendedAt?: number;
}

/**
 * The trust list the chain's issuer registry defines (FORMAT.md §5): every registered
 * issuer with its keys. A revoked key is not among the keys but under `revokedKeys` with
 * its revocation time, so every code it signed is refused (KEY_REVOKED; a verifier that
 * predates `revokedKeys` finds no such key: UNKNOWN_KEY). A key whose `notAfter` (shortened
 * on chain when its issuer retires it) lies more than the longest lifetime cap and the default
 * clock skew before `nowSeconds` is left out: every code it could sign has expired, and the
 * issuer's own list dropped it too (FORMAT.md §11.2). An issuer with no key at all is left out
 * (UNKNOWN_ISSUER). Pure: the caller reads the registry.
 * @example trustListFromRegistry(await readIssuers(), Date.now() / 1000)
 */
export function trustListFromRegistry(issuers: readonly RegistryIssuer[], nowSeconds: number): TrustListJson {
  const out: TrustListJson['issuers'] = [];
  for (const iss of [...issuers].sort((a, b) => a.id - b.id)) {
    // A suspended issuer is left out, keys and all, while the suspension lasts (FORMAT.md §11.3).
    if (iss.suspendedAt) continue;
    const keys: TrustListKeyJson[] = iss.keys
      .filter((k) => k.revokedAt === 0 && nowSeconds <= chainKeyListedUntil(k.notAfter))
      .map((k) => ({
        kid: toBase64Url(fromHex(k.kid)),
        kty: 'OKP',
        crv: 'Ed25519',
        x: toBase64Url(fromHex(k.publicKey)),
        notBefore: toRfc3339(k.notBefore),
        notAfter: toRfc3339(k.notAfter),
      }));
    const revokedKeys: RevokedKeyJson[] = iss.keys
      .filter((k) => k.revokedAt !== 0)
      .map((k) => ({ kid: toBase64Url(fromHex(k.kid)), revokedAt: toRfc3339(k.revokedAt) }));
    if (!keys.length && !revokedKeys.length) continue;
    out.push({
      id: String(iss.id),
      name: iss.name,
      ...(iss.statusListUrl ? { statusListUrl: iss.statusListUrl } : {}),
      keys,
      ...(revokedKeys.length ? { revokedKeys } : {}),
    });
  }
  return { format: TRUST_LIST_FORMAT, issuedAt: toRfc3339(Math.floor(nowSeconds)), issuers: out };
}

/** When a key with this `notAfter` leaves a trust list built from the chain: the last code it could sign has expired by then. */
export function chainKeyListedUntil(notAfter: number): number {
  return notAfter + LONGEST_CODE_LIFETIME_SECONDS + DEFAULT_CLOCK_SKEW_SECONDS;
}
