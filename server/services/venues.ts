import { createHmac, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { signCode, VENUE_TYPES, type VenueClaims, type VenueType } from '../../verifier/src';
import { isRegionCode } from '../domain/regions';
import { ServiceError } from '../errors';
import type { Principal } from '../http/auth';
import { safeText } from '../http/text';
import type { Tx } from '../../ledger/ledger';
import type { AppContext } from '../context';

/** Kinds within each venue type, for statistics by scenario. */
export const VENUE_SUBTYPES: Record<VenueType, readonly string[]> = {
  'residential-community': ['community', 'village'],
  enterprise: ['enterprise', 'worksite', 'park'],
  'crowded-place': ['mall', 'restaurant', 'market', 'scenic-spot', 'hotel'],
  'public-service': ['government-hall', 'hospital', 'bank', 'utility', 'post'],
  transport: ['station', 'airport', 'port', 'metro', 'bus', 'taxi'],
  school: ['university', 'middle-school', 'primary-school', 'kindergarten'],
  border: ['port-of-entry', 'provincial-checkpoint'],
};

export const venueSchema = z
  .strictObject({
    type: z.enum(VENUE_TYPES),
    subtype: z.string().max(32).optional(),
    name: safeText(1, 32),
    district: z.string().regex(/^\d{6}$/, 'a 6-digit GB/T 2260 region code'),
    /** Buses and taxis: the plate and/or route, shown to riders; not personal data. */
    vehicle: z.strictObject({ plate: safeText(1, 16).optional(), route: safeText(1, 32).optional() }).optional(),
    requireTemperature: z.boolean().default(false),
  })
  .superRefine((v, ctx) => {
    if (v.subtype && !VENUE_SUBTYPES[v.type].includes(v.subtype)) {
      ctx.addIssue({ code: 'custom', path: ['subtype'], message: `one of ${VENUE_SUBTYPES[v.type].join(', ')}` });
    }
    if (v.vehicle && v.type !== 'transport')
      ctx.addIssue({ code: 'custom', path: ['vehicle'], message: 'only transport venues have a vehicle' });
  });
export type VenueInput = z.infer<typeof venueSchema>;

export interface VenueRecord extends Omit<VenueInput, 'subtype'> {
  id: string;
  subtype: string;
  /** Token id of the operator who runs it. */
  operator: string;
  createdAt: string;
  code: { text: string; cti: string; iat: number; exp: number; kid: string };
}

export const venueSubject = (id: string) => `v:${id}`;

/** Venues, their printed venue codes, rosters (staff, pupils) and registered paper certificates. */
export class VenueService {
  constructor(private readonly app: AppContext) {}

  async register(tx: Tx, input: VenueInput, operator: Principal): Promise<VenueRecord> {
    if (!isRegionCode(input.district)) {
      throw new ServiceError('UNKNOWN_REGION', `${input.district} is not a GB/T 2260 region code`, [
        { path: 'district', code: 'REGION_UNKNOWN', message: 'unknown region code' },
      ]);
    }
    const id = randomBytes(12).toString('base64url');
    const venue: VenueRecord = {
      ...input,
      id,
      subtype: input.subtype ?? VENUE_SUBTYPES[input.type][0],
      operator: operator.id,
      createdAt: tx.now.toISOString(),
      code: await this.signVenueCode(tx, id, input),
    };
    tx.put('venues', id, venue);
    await tx.append({
      type: 'venue.registered',
      subjects: [venueSubject(id)],
      data: {
        type: venue.type,
        subtype: venue.subtype,
        district: venue.district,
        name: venue.name,
        operator: operator.id,
        cti: venue.code.cti,
      },
    });
    return venue;
  }

  /**
   * The venue with a code signed by the key that signs now. After a rotation or a revocation
   * the code is re-signed (a `venue.code.issued` event) the first time anyone reads the venue,
   * so its operator prints a code that outlives the old key; the old printed code works as
   * long as its key stays in the trust list (until its last resident code has expired, or not
   * at all once revoked). Venue codes do not hold retired keys in the trust list for a year.
   */
  async current(v: VenueRecord): Promise<VenueRecord> {
    if (v.code.kid === this.app.keys.active().record.kid) return v;
    return this.app.ledger.transact(async (tx) => {
      const now = (await tx.get<VenueRecord>('venues', v.id)) ?? v;
      if (now.code.kid === this.app.keys.active().record.kid) return now;
      const next: VenueRecord = { ...now, code: await this.signVenueCode(tx, now.id, now) };
      tx.put('venues', now.id, next);
      const data = { cti: next.code.cti, kid: next.code.kid, exp: next.code.exp, replaces: now.code.cti };
      await tx.append({ type: 'venue.code.issued', subjects: [venueSubject(now.id)], data });
      return next;
    });
  }

  private async signVenueCode(tx: Tx, id: string, v: Pick<VenueInput, 'type' | 'name' | 'district'>) {
    const { record, signer } = this.app.keys.active();
    const iat = Math.floor(tx.now.getTime() / 1000);
    const claims: VenueClaims = {
      kind: 'venue',
      iss: this.app.config.ISSUER_ID,
      sub: id,
      iat,
      exp: iat + this.app.config.VENUE_CODE_TTL_DAYS * 86400,
      cti: randomBytes(8).toString('hex'),
      venue: { id, type: v.type, name: v.name, district: v.district },
    };
    return { text: await signCode(claims, signer), cti: claims.cti, iat, exp: claims.exp, kid: record.kid };
  }

  async get(id: string): Promise<VenueRecord> {
    const v = /^[A-Za-z0-9_-]{16}$/.test(id) ? await this.app.ledger.read<VenueRecord>('venues', id) : undefined;
    if (!v) throw new ServiceError('NOT_FOUND', 'no such venue');
    return v;
  }

  /** Every venue; who may see which is the `venue.read` row of server/http/permissions.ts. */
  async all(): Promise<VenueRecord[]> {
    const out: VenueRecord[] = [];
    for await (const v of this.app.ledger.space('venues').values()) out.push(v as VenueRecord);
    return out;
  }

  /** Registers a paper health certificate a school accepts in place of a code; only its hash is kept. */
  async addCertificate(tx: Tx, venue: VenueRecord, number: string, validUntil: string, by: Principal): Promise<string> {
    const h = certificateHash(this.app.secrets.pseudonymKey, venue.id, number);
    tx.put('index', `cert/${venue.id}/${h}`, { validUntil, by: by.id, at: tx.now.toISOString() });
    await tx.append({
      type: 'certificate.registered',
      subjects: [venueSubject(venue.id)],
      data: { certificate: h.slice(0, 16), validUntil, by: by.id },
    });
    return h.slice(0, 16);
  }

  async certificateValid(
    tx: Tx,
    venueId: string,
    number: string,
    day: string,
  ): Promise<{ valid: boolean; hash: string }> {
    const h = certificateHash(this.app.secrets.pseudonymKey, venueId, number);
    const c = await tx.get<{ validUntil: string }>('index', `cert/${venueId}/${h}`);
    return { valid: !!c && c.validUntil >= day, hash: h.slice(0, 16) };
  }
}

/** Certificates are keyed by venue and a keyed hash of the number, never the number itself. */
export function certificateHash(key: Buffer, venueId: string, number: string): string {
  return createHmac('sha256', key).update(`certificate:${venueId}:${number.trim().toUpperCase()}`).digest('hex');
}

/** The calendar day in Asia/Shanghai, YYYY-MM-DD. */
export function shanghaiDay(d: Date): string {
  return new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
}

/** A venue as operators and the public see it (the code text is what gets printed). */
export function venueView(v: VenueRecord) {
  return {
    id: v.id,
    type: v.type,
    subtype: v.subtype,
    name: v.name,
    district: v.district,
    vehicle: v.vehicle,
    requireTemperature: v.requireTemperature,
    createdAt: v.createdAt,
    code: v.code.text,
    codeExpiresAt: new Date(v.code.exp * 1000).toISOString(),
  };
}
