import { TRUST_LIST_FORMAT, toRfc3339, type TrustListJson } from '../../verifier/src';
import { publicUrl } from '../config';
import type { AppContext } from '../context';

type Issuer = TrustListJson['issuers'][number];

/** This issuer's entry in a trust list: every key a verifier still needs at `nowS`, and every revoked one with its time. */
export function ownTrustEntry(app: Pick<AppContext, 'config' | 'issuerName' | 'keys'>, nowS: number): Issuer {
  const revokedKeys = app.keys.revokedList();
  return {
    id: app.config.ISSUER_ID,
    name: app.issuerName,
    statusListUrl: `${publicUrl(app.config)}/v1/status-list`,
    keys: app.keys.listed(nowS),
    ...(revokedKeys.length ? { revokedKeys } : {}),
  };
}

/**
 * The trust list this service verifies codes with, and publishes: its own keys (a revoked
 * one among `revokedKeys`, so its own scans and check-ins refuse it like any verifier) plus, when federation is
 * on, every other issuer registered on chain. The object is rebuilt only when its content
 * changes, so the verifier's per-object key cache keeps working.
 */
export class TrustService {
  private cached: { json: TrustListJson; fingerprint: string } | undefined;
  private foreign: Issuer[] = [];
  private foreignStatus = new Map<string, Uint8Array>();
  /** When the other issuers were last set (read from the chain), by the service's clock. */
  foreignUpdatedAt: Date | undefined;

  constructor(private readonly app: Pick<AppContext, 'config' | 'issuerName' | 'keys' | 'clock'>) {}

  /** Replaces the other issuers (from the chain) and their latest status lists. */
  setForeign(issuers: Issuer[], statusLists: Map<string, Uint8Array>): void {
    this.foreign = issuers.filter((i) => i.id !== this.app.config.ISSUER_ID);
    this.foreignStatus = statusLists;
    this.foreignUpdatedAt = this.app.clock();
    this.cached = undefined;
  }

  foreignStatusLists(): Uint8Array[] {
    return [...this.foreignStatus.values()];
  }

  foreignIssuers(): Issuer[] {
    return this.foreign;
  }

  /** The trust list to verify with now. */
  current(): TrustListJson {
    const nowS = Math.floor(this.app.clock().getTime() / 1000);
    const own = ownTrustEntry(this.app, nowS);
    const fingerprint = JSON.stringify([own.keys.map((k) => [k.kid, k.notAfter]), own.revokedKeys?.map((k) => k.kid)]);
    if (!this.cached || this.cached.fingerprint !== fingerprint) {
      this.cached = {
        fingerprint,
        json: { format: TRUST_LIST_FORMAT, issuedAt: toRfc3339(nowS), issuers: [own, ...this.foreign] },
      };
    }
    return this.cached.json;
  }
}
