import type { VenueType } from '../../verifier/src';

/**
 * 多功能 (one code for services): which cards a resident can link, which desks may ask for
 * what, and which authority answers for each. Pure tables; the services and the permissions
 * table (server/http/permissions.ts) read them, and test/server/entitlements.test.ts
 * enumerates them.
 */

/** Cards an authority links to a resident; only the card's reference is kept (sealed). */
export const CARD_KINDS = ['health-card', 'social-security-card', 'insurance-voucher', 'payment'] as const;
export type CardKind = (typeof CARD_KINDS)[number];

/** What a service desk may look a fresh code up for. */
export const PURPOSES = ['registration', 'insurance-payment', 'social-security', 'identity', 'fare'] as const;
export type Purpose = (typeof PURPOSES)[number];

/**
 * The one card each purpose returns the reference of; `identity` returns the real name and
 * ID number from the resident record (亮码办事) and needs no card.
 */
export const PURPOSE_CARD: Record<Purpose, CardKind | null> = {
  registration: 'health-card',
  'insurance-payment': 'insurance-voucher',
  'social-security': 'social-security-card',
  identity: null,
  fare: 'payment',
};

/** Kinds of service desk. */
export const DESK_KINDS = [
  'hospital-desk',
  'hospital-cashier',
  'pharmacy',
  'social-security-office',
  'service-hall',
  'transit-reader',
] as const;
export type DeskKind = (typeof DESK_KINDS)[number];

/** The purposes a desk of each kind may be registered with; a desk asks only for those it was registered with. */
export const DESK_PURPOSES: Record<DeskKind, readonly Purpose[]> = {
  'hospital-desk': ['registration'],
  'hospital-cashier': ['insurance-payment'],
  pharmacy: ['insurance-payment'],
  'social-security-office': ['social-security'],
  'service-hall': ['identity'],
  'transit-reader': ['fare'],
};

/** The venue types a desk of each kind may stand in; the venue's admission policy decides at the desk. */
export const DESK_VENUE_TYPES: Record<DeskKind, readonly VenueType[]> = {
  'hospital-desk': ['public-service'],
  'hospital-cashier': ['public-service'],
  pharmacy: ['crowded-place', 'public-service'],
  'social-security-office': ['public-service'],
  'service-hall': ['public-service'],
  'transit-reader': ['transport'],
};

/**
 * The sector authorities (feed sources) of cards and desks: 卫健委 (health), 人社 (hrss),
 * 医保 (medical-insurance), 政务服务 (government-services), 交通 (transport), and payment
 * providers (payment), which link a resident's payment token and nothing else.
 */
export const SECTOR_SOURCES = [
  'health',
  'hrss',
  'medical-insurance',
  'government-services',
  'transport',
  'payment',
] as const;
export type SectorSource = (typeof SECTOR_SOURCES)[number];

/** Which authority links (and removes) each card. */
export const CARD_AUTHORITY: Record<CardKind, SectorSource> = {
  'health-card': 'health',
  'social-security-card': 'hrss',
  'insurance-voucher': 'medical-insurance',
  payment: 'payment',
};

/** Which authority registers desks of each kind. */
export const DESK_AUTHORITY: Record<DeskKind, SectorSource> = {
  'hospital-desk': 'health',
  'hospital-cashier': 'medical-insurance',
  pharmacy: 'medical-insurance',
  'social-security-office': 'hrss',
  'service-hall': 'government-services',
  'transit-reader': 'transport',
};

/**
 * Why a look-up returned nothing; each is also an error code (server/errors.ts) and the
 * `outcome` of the look-up's event. A look-up that returned what its purpose entitles has
 * the outcome `resolved`.
 */
export const LOOKUP_REFUSALS = [
  /** The code is printed (纸质码): the person must be present with a live one. */
  'CODE_PRINTED',
  /** The code has expired. */
  'CODE_EXPIRED',
  /** Another province's code: only its issuer holds this person's cards. */
  'CODE_FOREIGN',
  /** This code was already used for a look-up: each look-up needs a fresh code. */
  'CODE_REPLAYED',
  /** Not a valid code of this issuer (signature, key, revoked, unknown cti, ...). */
  'CODE_NOT_VALID',
  /** The desk was not registered with this purpose. */
  'PURPOSE_NOT_ALLOWED',
  /** The resident paused this purpose (or the card it needs). */
  'CONSENT_PAUSED',
  /** No card of the kind the purpose needs is linked. */
  'CARD_NOT_LINKED',
  /** The venue's admission policy refuses this code here (a red code on a bus). */
  'ADMISSION_DENIED',
] as const;
export type LookupRefusal = (typeof LOOKUP_REFUSALS)[number];
export type LookupOutcome = 'resolved' | LookupRefusal;
