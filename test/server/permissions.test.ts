import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import defaultPolicies from '../../server/scenarios/default-policies.json';
import defaultRules from '../../server/rules/default-rules.json';
import { AUTHORITY_ROLES, issueToken } from '../../server/http/auth';
import { PERMISSIONS } from '../../server/http/permissions';
import {
  ROOT,
  residentIdNumber,
  shanghaiDate,
  startTestService,
  type Reply,
  type TestService,
} from '../support/service';
import { newResident, registerVenue, type Resident, type Venue } from '../support/scenario';
import { registerDesk } from '../support/services17';

/**
 * Every action of server/http/permissions.ts, tried through the HTTP API by every kind of
 * token. The expectations below are written out by hand, not read from the table, so a row
 * that grants too much (or too little) fails here.
 */

/** Who calls: every role, the feed sources, and the scoped roles once in and once out of scope of the target. */
const WHO = [
  'none',
  'resident',
  'admin',
  'health',
  'feed:health',
  'feed:public-security',
  'feed:transport',
  'feed:telecom',
  'feed:hrss',
  'feed:medical-insurance',
  'feed:government-services',
  'feed:payment',
  'auditor',
  'witness',
  'federation-in',
  'federation-out',
  'operator-in',
  'operator-out',
  'grid-in',
  'grid-out',
  'border-in',
  'border-out',
  'desk-in',
  'desk-out',
] as const;
type Who = (typeof WHO)[number];

/**
 * The world the requests act on:
 * - operator-in registers crowded places and schools in Hefei (340100) and runs the mall and the school;
 * - operator-out registers enterprises in Wuhu (340200);
 * - grid-in covers 蜀山区 (340104), where the resident lives; grid-out covers Wuhu;
 * - border-in works at port A, border-out at port B; both ports were registered by health;
 * - federation-in speaks for Jiangsu (320000), federation-out for Shanghai (310000);
 * - feed:health registered the hospital desk (desk-in's desk) in the hospital; feed:government-services
 *   registered the service hall's desk (desk-out's) there too.
 */
interface World {
  hospital: Venue;
  station: Venue;
  desk: { id: string };
  mall: Venue;
  school: Venue;
  portA: Venue;
  portB: Venue;
  resident: Resident;
}

interface Case {
  action: string;
  what: string;
  /** Who gets through, by hand. Everyone else is refused: 401 without a token, 403 otherwise. */
  allowed: readonly Who[];
  /** The status an allowed caller gets. */
  ok: number;
  /** Setup before each try, whose events are not the request's (an appeal to decide); its result goes to `send`. */
  prepare?(svc: TestService, w: World): Promise<string>;
  send(svc: TestService, w: World, token: string | undefined, prepared?: string): Promise<Reply>;
}

const ADMIN_HEALTH = ['admin', 'health'] as const;
const runs = (...extra: Who[]): Who[] => [...ADMIN_HEALTH, ...extra];

let passport = 0;
const traveller = (venueId: string) => ({
  venueId,
  idType: 'passport',
  idNumber: `E${String(80_000_000 + passport++)}`,
  name: 'Li Hua',
  phone: '+447700900123',
  from: 'GB',
  destination: '340104',
  temperatureC: 36.6,
});
const person = () => ({ idType: 'resident-id', idNumber: residentIdNumber() });
const now = (svc: TestService) => svc.clock.now().toISOString();

const ownId = (w: World) => ({ idType: w.resident.body.idType, idNumber: w.resident.body.idNumber });
const link = (kind: string, provider?: string) => (svc: TestService, w: World, token?: string) =>
  svc.call('POST', '/v1/links', {
    token,
    json: { kind, ...ownId(w), ref: `REF-${passport++}`, ...(provider ? { provider } : {}) },
  });
const desk = (kind: string, venue: (w: World) => Venue) => (svc: TestService, w: World, token?: string) =>
  svc.call('POST', '/v1/desks', { token, json: { kind, name: `${kind} ${passport++}`, venueId: venue(w).id } });

const get = (path: (w: World) => string) => (svc: TestService, w: World, token?: string) =>
  svc.call('GET', path(w), { token });

const CASES: Case[] = [
  {
    action: 'token.create',
    what: 'POST /v1/admin/tokens',
    allowed: ['admin'],
    ok: 201,
    send: (svc, _w, token) =>
      svc.call('POST', '/v1/admin/tokens', { token, json: { role: 'auditor', name: 'made in the permission test' } }),
  },
  {
    action: 'token.list',
    what: 'GET /v1/admin/tokens',
    allowed: ['admin'],
    ok: 200,
    send: get(() => '/v1/admin/tokens'),
  },
  {
    action: 'token.revoke',
    what: 'DELETE /v1/admin/tokens/:id',
    allowed: ['admin'],
    ok: 204,
    // A fresh token to revoke for each try.
    async prepare(svc) {
      const made = await svc.call('POST', '/v1/admin/tokens', {
        token: svc.adminToken,
        json: { role: 'auditor', name: 'to be revoked' },
      });
      expect(made.status, JSON.stringify(made.body)).to.equal(201);
      return made.body.id as string;
    },
    send: (svc, _w, token, id) => svc.call('DELETE', `/v1/admin/tokens/${id}`, { token }),
  },
  {
    action: 'keys.rotate',
    what: 'POST /v1/admin/keys/rotate',
    allowed: ['admin'],
    ok: 201,
    send: (svc, _w, token) => svc.call('POST', '/v1/admin/keys/rotate', { token }),
  },
  {
    action: 'rules.publish',
    what: 'PUT /v1/rules',
    allowed: ADMIN_HEALTH,
    ok: 201,
    send: (svc, _w, token) => svc.call('PUT', '/v1/rules', { token, json: defaultRules }),
  },
  {
    action: 'policies.publish',
    what: 'PUT /v1/policies',
    allowed: ADMIN_HEALTH,
    ok: 201,
    send: (svc, _w, token) => svc.call('PUT', '/v1/policies', { token, json: defaultPolicies }),
  },
  {
    action: 'feed.cases',
    what: 'POST /v1/feeds/cases',
    allowed: runs('feed:health'),
    ok: 201,
    send: (svc, _w, token) =>
      svc.call('POST', '/v1/feeds/cases', {
        token,
        json: { records: [{ ...person(), status: 'recovered', at: now(svc) }] },
      }),
  },
  {
    action: 'feed.close-contacts',
    what: 'POST /v1/feeds/close-contacts',
    allowed: runs('feed:health', 'feed:telecom'),
    ok: 201,
    send: (svc, _w, token) =>
      svc.call('POST', '/v1/feeds/close-contacts', {
        token,
        json: { records: [{ ...person(), degree: 2, exposedAt: now(svc) }] },
      }),
  },
  {
    action: 'feed.inbound-travellers',
    what: 'POST /v1/feeds/inbound-travellers',
    allowed: runs('feed:health', 'feed:public-security', 'feed:transport'),
    ok: 201,
    send: (svc, _w, token) =>
      svc.call('POST', '/v1/feeds/inbound-travellers', {
        token,
        json: { records: [{ ...person(), arrivedAt: now(svc), from: 'SG' }] },
      }),
  },
  {
    action: 'feed.risk-areas',
    what: 'POST /v1/feeds/risk-areas',
    allowed: runs('feed:health'),
    ok: 201,
    send: (svc, _w, token) => svc.call('POST', '/v1/feeds/risk-areas', { token, json: { areas: [] } }),
  },

  {
    action: 'venue.register',
    what: 'POST /v1/venues: a mall in 340104',
    allowed: runs('operator-in'),
    ok: 201,
    send: (svc, _w, token) =>
      svc.call('POST', '/v1/venues', {
        token,
        json: { type: 'crowded-place', subtype: 'mall', name: '万象城', district: '340104' },
      }),
  },
  {
    action: 'venue.register',
    what: 'POST /v1/venues: a school in 340202 (outside the Hefei operator’s districts)',
    allowed: ADMIN_HEALTH,
    ok: 201,
    send: (svc, _w, token) =>
      svc.call('POST', '/v1/venues', { token, json: { type: 'school', name: '镜湖小学', district: '340202' } }),
  },
  {
    action: 'venue.register',
    what: 'POST /v1/venues: an enterprise in 340104 (a type the Hefei operator may not register)',
    allowed: ADMIN_HEALTH,
    ok: 201,
    send: (svc, _w, token) =>
      svc.call('POST', '/v1/venues', { token, json: { type: 'enterprise', name: '科大讯飞', district: '340104' } }),
  },
  {
    action: 'venue.register',
    what: 'POST /v1/venues: an enterprise in 340202',
    allowed: runs('operator-out'),
    ok: 201,
    send: (svc, _w, token) =>
      svc.call('POST', '/v1/venues', { token, json: { type: 'enterprise', name: '奇瑞汽车', district: '340202' } }),
  },
  {
    action: 'venue.register',
    what: 'POST /v1/venues: a border post',
    allowed: ADMIN_HEALTH,
    ok: 201,
    send: (svc, _w, token) =>
      svc.call('POST', '/v1/venues', {
        token,
        json: { type: 'border', subtype: 'port-of-entry', name: '芜湖港口岸', district: '340202' },
      }),
  },

  {
    action: 'venue.read',
    what: 'GET /v1/venues (each sees its own)',
    allowed: runs('operator-in', 'operator-out', 'grid-in', 'grid-out', 'border-in', 'border-out'),
    ok: 200,
    send: get(() => '/v1/venues'),
  },
  {
    action: 'venue.read',
    what: 'GET /v1/venues/:id of the mall',
    allowed: runs('operator-in', 'grid-in', 'grid-out'),
    ok: 200,
    send: get((w) => `/v1/venues/${w.mall.id}`),
  },
  {
    action: 'venue.read',
    what: 'GET /v1/venues/:id of port A',
    allowed: runs('border-in', 'grid-in', 'grid-out'),
    ok: 200,
    send: get((w) => `/v1/venues/${w.portA.id}`),
  },
  {
    action: 'venue.code',
    what: 'GET /v1/venues/:id/code.svg of the mall',
    allowed: runs('operator-in'),
    ok: 200,
    send: get((w) => `/v1/venues/${w.mall.id}/code.svg`),
  },
  {
    action: 'venue.code',
    what: 'GET /v1/venues/:id/code.png of port A',
    allowed: runs('border-in'),
    ok: 200,
    send: get((w) => `/v1/venues/${w.portA.id}/code.png`),
  },
  {
    action: 'venue.scans.read',
    what: 'GET /v1/venues/:id/scans of the mall',
    allowed: runs('operator-in'),
    ok: 200,
    send: get((w) => `/v1/venues/${w.mall.id}/scans`),
  },
  {
    action: 'venue.scans.read',
    what: 'GET /v1/venues/:id/scans of port A',
    allowed: runs('border-in'),
    ok: 200,
    send: get((w) => `/v1/venues/${w.portA.id}/scans`),
  },
  {
    action: 'venue.stats.read',
    what: 'GET /v1/stats/venues/:id/hourly of the mall',
    allowed: runs('operator-in'),
    ok: 200,
    send: get((w) => `/v1/stats/venues/${w.mall.id}/hourly`),
  },
  {
    action: 'venue.stats.read',
    what: 'GET /v1/stats/venues/:id/hourly of port A',
    allowed: runs('border-in'),
    ok: 200,
    send: get((w) => `/v1/stats/venues/${w.portA.id}/hourly`),
  },
  {
    action: 'venue.scan',
    what: 'POST /v1/scans at the mall',
    allowed: runs('operator-in'),
    ok: 201,
    send: (svc, w, token) =>
      svc.call('POST', '/v1/scans', { token, json: { venueId: w.mall.id, code: w.resident.code, temperatureC: 36.5 } }),
  },
  {
    action: 'venue.scan',
    what: 'POST /v1/scans at port A',
    allowed: runs('border-in'),
    ok: 201,
    send: (svc, w, token) =>
      svc.call('POST', '/v1/scans', {
        token,
        json: { venueId: w.portA.id, code: w.resident.code, temperatureC: 36.5 },
      }),
  },
  {
    action: 'venue.certificate',
    what: 'POST /v1/venues/:id/certificates at the school',
    allowed: runs('operator-in'),
    ok: 201,
    send: (svc, w, token) =>
      svc.call('POST', `/v1/venues/${w.school.id}/certificates`, {
        token,
        json: { certificateNo: `ZM-${passport++}`, validUntil: shanghaiDate(svc.clock, -7) },
      }),
  },
  {
    action: 'venue.roster.read',
    what: 'GET /v1/venues/:id/roster of the school',
    allowed: runs('operator-in'),
    ok: 200,
    send: get((w) => `/v1/venues/${w.school.id}/roster`),
  },
  {
    action: 'border.entry',
    what: 'POST /v1/border/entries at port A',
    allowed: runs('border-in'),
    ok: 201,
    send: (svc, w, token) => svc.call('POST', '/v1/border/entries', { token, json: traveller(w.portA.id) }),
  },
  {
    action: 'border.entry',
    what: 'POST /v1/border/entries at the mall (health gets past the check, to 400: not a border post)',
    allowed: ADMIN_HEALTH,
    ok: 400,
    send: (svc, w, token) => svc.call('POST', '/v1/border/entries', { token, json: traveller(w.mall.id) }),
  },

  {
    action: 'tracing.run',
    what: 'POST /v1/tracing',
    allowed: ADMIN_HEALTH,
    ok: 201,
    send: (svc, w, token) =>
      svc.call('POST', '/v1/tracing', {
        token,
        json: {
          pseudonym: w.resident.pseudonym,
          from: new Date(svc.clock.ms - 86_400_000).toISOString(),
          to: now(svc),
        },
      }),
  },
  { action: 'appeal.queue', what: 'GET /v1/appeals', allowed: ADMIN_HEALTH, ok: 200, send: get(() => '/v1/appeals') },
  {
    action: 'appeal.decide',
    what: 'POST /v1/appeals/:id/decision',
    allowed: ADMIN_HEALTH,
    ok: 200,
    // A fresh open appeal for each try.
    async prepare(svc) {
      const appellant = await newResident(svc, { declaration: { temperatureC: 36.5, contactWithCase: true } });
      const filed = await svc.call('POST', '/v1/appeals', {
        token: appellant.token,
        json: { reason: '我没有接触过病例' },
      });
      expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
      return filed.body.id as string;
    },
    send: (svc, _w, token, appealId) =>
      svc.call('POST', `/v1/appeals/${appealId}/decision`, {
        token,
        json: { decision: 'reject', reason: '经核实，维持原判' },
      }),
  },
  {
    action: 'grid.list',
    what: 'GET /v1/grid/residents (each sees its own area)',
    allowed: runs('grid-in', 'grid-out'),
    ok: 200,
    send: get(() => '/v1/grid/residents'),
  },
  {
    action: 'grid.history',
    what: 'GET /v1/grid/residents/:pseudonym/visits of a resident of 340104',
    allowed: runs('grid-in'),
    ok: 200,
    send: get((w) => `/v1/grid/residents/${w.resident.pseudonym}/visits`),
  },
  {
    action: 'grid.visit',
    what: 'POST /v1/grid/visits to a resident of 340104',
    allowed: runs('grid-in'),
    ok: 201,
    send: (svc, w, token) =>
      svc.call('POST', '/v1/grid/visits', { token, json: { pseudonym: w.resident.pseudonym, outcome: 'verified' } }),
  },
  {
    action: 'stats.read',
    what: 'GET /v1/stats/colours',
    allowed: ADMIN_HEALTH,
    ok: 200,
    send: get(() => '/v1/stats/colours'),
  },
  {
    action: 'stats.read',
    what: 'GET /v1/stats/colours/daily',
    allowed: ADMIN_HEALTH,
    ok: 200,
    send: get(() => '/v1/stats/colours/daily'),
  },
  {
    action: 'stats.read',
    what: 'GET /v1/stats/scans',
    allowed: ADMIN_HEALTH,
    ok: 200,
    send: get(() => '/v1/stats/scans'),
  },

  // This service runs without a chain: an allowed auditor gets past authorisation to 503 ANCHORING_OFF.
  {
    action: 'proofs.read',
    what: 'GET /v1/proofs/events/1',
    allowed: ['admin', 'auditor'],
    ok: 503,
    send: get(() => '/v1/proofs/events/1'),
  },
  {
    action: 'proofs.read',
    what: 'GET /v1/proofs/subjects/:pseudonym',
    allowed: ['admin', 'auditor'],
    ok: 503,
    send: get((w) => `/v1/proofs/subjects/${w.resident.pseudonym}`),
  },
  {
    action: 'proofs.read',
    what: 'GET /v1/proofs/venues/:id',
    allowed: ['admin', 'auditor'],
    ok: 503,
    send: get((w) => `/v1/proofs/venues/${w.mall.id}`),
  },
  {
    action: 'proofs.seal',
    what: 'POST /v1/proofs/subjects/:pseudonym/seal',
    allowed: ['admin', 'auditor'],
    ok: 503,
    send: (svc, w, token) => svc.call('POST', `/v1/proofs/subjects/${w.resident.pseudonym}/seal`, { token }),
  },
  {
    action: 'proofs.seal',
    what: 'POST /v1/proofs/venues/:id/seal',
    allowed: ['admin', 'auditor'],
    ok: 503,
    send: (svc, w, token) => svc.call('POST', `/v1/proofs/venues/${w.mall.id}/seal`, { token }),
  },
  // Needs no chain: the events are the ledger's.
  {
    action: 'log.read',
    what: 'GET /v1/log/events?from=1&to=5',
    allowed: ['admin', 'auditor', 'witness'],
    ok: 200,
    send: get(() => '/v1/log/events?from=1&to=5'),
  },
  {
    action: 'federation.scans',
    what: "POST /v1/federation/scans about Jiangsu's codes",
    allowed: ['admin', 'federation-in'],
    ok: 200,
    send: (svc, _w, token) =>
      svc.call('POST', '/v1/federation/scans', {
        token,
        json: {
          issuer: '320000',
          ctis: ['0011223344556677'],
          from: new Date(svc.clock.ms - 86_400_000).toISOString(),
          to: now(svc),
        },
      }),
  },

  // 多功能: each card by its own sector authority (CARD_AUTHORITY), the health role for the e-health card.
  {
    action: 'card.link',
    what: 'POST /v1/links: an e-health card',
    allowed: runs('feed:health'),
    ok: 201,
    send: link('health-card'),
  },
  {
    action: 'card.link',
    what: 'POST /v1/links: an e-social-security card',
    allowed: ['admin', 'feed:hrss'],
    ok: 201,
    send: link('social-security-card'),
  },
  {
    action: 'card.link',
    what: 'POST /v1/links: an insurance voucher',
    allowed: ['admin', 'feed:medical-insurance'],
    ok: 201,
    send: link('insurance-voucher'),
  },
  {
    action: 'card.link',
    what: 'POST /v1/links: a payment token',
    allowed: ['admin', 'feed:payment'],
    ok: 201,
    send: link('payment', 'stand-in-pay'),
  },
  {
    action: 'card.link',
    what: 'DELETE /v1/links: the e-health card',
    allowed: runs('feed:health'),
    ok: 200,
    async prepare(svc, w) {
      await link('health-card')(svc, w, svc.adminToken);
      return '';
    },
    send: (svc, w, token) => svc.call('DELETE', '/v1/links', { token, json: { kind: 'health-card', ...ownId(w) } }),
  },
  {
    action: 'card.link',
    what: "POST /v1/links/confirm: the resident's request for an insurance voucher",
    allowed: ['admin', 'feed:medical-insurance'],
    ok: 201,
    async prepare(svc, w) {
      const r = await svc.call('POST', '/v1/residents/me/links/requests', {
        token: w.resident.token,
        json: { kind: 'insurance-voucher' },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      return r.body.requestId as string;
    },
    send: (svc, w, token, requestId) =>
      svc.call('POST', '/v1/links/confirm', {
        token,
        json: { requestId, kind: 'insurance-voucher', ...ownId(w), ref: `MI-${passport++}` },
      }),
  },
  // Desks by the authority of their sector (DESK_AUTHORITY), the health role for hospital desks.
  {
    action: 'desk.register',
    what: 'POST /v1/desks: a hospital desk',
    allowed: runs('feed:health'),
    ok: 201,
    send: desk('hospital-desk', (w) => w.hospital),
  },
  {
    action: 'desk.register',
    what: 'POST /v1/desks: a hospital cashier',
    allowed: ['admin', 'feed:medical-insurance'],
    ok: 201,
    send: desk('hospital-cashier', (w) => w.hospital),
  },
  {
    action: 'desk.register',
    what: 'POST /v1/desks: a pharmacy',
    allowed: ['admin', 'feed:medical-insurance'],
    ok: 201,
    send: desk('pharmacy', (w) => w.hospital),
  },
  {
    action: 'desk.register',
    what: 'POST /v1/desks: a social-security office',
    allowed: ['admin', 'feed:hrss'],
    ok: 201,
    send: desk('social-security-office', (w) => w.hospital),
  },
  {
    action: 'desk.register',
    what: 'POST /v1/desks: a service hall',
    allowed: ['admin', 'feed:government-services'],
    ok: 201,
    send: desk('service-hall', (w) => w.hospital),
  },
  {
    action: 'desk.register',
    what: 'POST /v1/desks: a transit reader',
    allowed: ['admin', 'feed:transport'],
    ok: 201,
    send: desk('transit-reader', (w) => w.station),
  },
  {
    action: 'desk.read',
    what: 'GET /v1/desks/:id of the hospital desk',
    allowed: ['admin', 'feed:health', 'desk-in'],
    ok: 200,
    send: get((w) => `/v1/desks/${w.desk.id}`),
  },
  {
    action: 'desk.read',
    what: 'GET /v1/desks/me (each desk its own)',
    allowed: ['desk-in', 'desk-out'],
    ok: 200,
    send: get(() => '/v1/desks/me'),
  },
  {
    action: 'desk.token.create',
    what: 'POST /v1/desks/:id/tokens of the hospital desk',
    allowed: ['admin', 'feed:health'],
    ok: 201,
    send: (svc, w, token) => svc.call('POST', `/v1/desks/${w.desk.id}/tokens`, { token }),
  },
  {
    action: 'desk.lookups.read',
    what: 'GET /v1/desks/:id/lookups of the hospital desk',
    allowed: ['admin', 'feed:health', 'desk-in'],
    ok: 200,
    send: get((w) => `/v1/desks/${w.desk.id}/lookups`),
  },
  // Only a desk looks a code up, each at its own desk; a look-up that gets that far is recorded, and a code that is none answers 422 CODE_NOT_VALID.
  {
    action: 'services.resolve',
    what: 'POST /v1/services/resolve (each desk at its own)',
    allowed: ['desk-in', 'desk-out'],
    ok: 422,
    send: (svc, _w, token) =>
      svc.call('POST', '/v1/services/resolve', { token, json: { code: 'AK1:NOT-A-CODE', purpose: 'identity' } }),
  },
];

describe('who may do what (server/http/permissions.ts)', function () {
  this.timeout(120_000);
  let svc: TestService;
  let w: World;
  const tokens = {} as Record<Who, string | undefined>;

  before(async () => {
    svc = await startTestService({ config: { REVIEW_INTERVAL_SECONDS: 3600, RATE_LINK_REQUEST_PER_RESIDENT: 1000 } });
    const health = await svc.token('health');
    tokens.none = undefined;
    tokens.admin = svc.adminToken;
    tokens.health = health;
    for (const source of [
      'health',
      'public-security',
      'transport',
      'telecom',
      'hrss',
      'medical-insurance',
      'government-services',
      'payment',
    ] as const) {
      tokens[`feed:${source}`] = await svc.token('feed', { source });
    }
    tokens.auditor = await svc.token('auditor');
    tokens.witness = await svc.token('witness');
    for (const [who, issuer] of [
      ['federation-in', '320000'],
      ['federation-out', '310000'],
    ] as const) {
      const made = await svc.call('POST', '/v1/admin/tokens', {
        token: svc.adminToken,
        json: { role: 'federation', name: `${issuer} tracing`, scope: { issuer } },
      });
      expect(made.status, JSON.stringify(made.body)).to.equal(201);
      tokens[who] = made.body.token;
    }
    tokens['operator-in'] = await svc.token('operator', {
      scope: { venueTypes: ['crowded-place', 'school'], districts: ['340100'] },
    });
    tokens['operator-out'] = await svc.token('operator', {
      scope: { venueTypes: ['enterprise'], districts: ['340200'] },
    });
    tokens['grid-in'] = await svc.token('grid', { scope: { districts: ['340104'] } });
    tokens['grid-out'] = await svc.token('grid', { scope: { districts: ['340200'] } });
    const mall = await registerVenue(svc, tokens['operator-in']!, {
      type: 'crowded-place',
      subtype: 'mall',
      name: '之心城',
      district: '340104',
    });
    const school = await registerVenue(svc, tokens['operator-in']!, {
      type: 'school',
      subtype: 'primary-school',
      name: '琥珀小学',
      district: '340104',
    });
    const portA = await registerVenue(svc, health, {
      type: 'border',
      subtype: 'port-of-entry',
      name: '新桥机场口岸',
      district: '340123',
    });
    const portB = await registerVenue(svc, health, {
      type: 'border',
      subtype: 'provincial-checkpoint',
      name: '皖苏界检查站',
      district: '341302',
    });
    tokens['border-in'] = await svc.token('border', { scope: { venues: [portA.id] } });
    tokens['border-out'] = await svc.token('border', { scope: { venues: [portB.id] } });
    const resident = await newResident(svc, { district: '340104' });
    tokens.resident = resident.token;
    const hospital = await registerVenue(svc, health, {
      type: 'public-service',
      subtype: 'hospital',
      name: '省立医院',
      district: '340104',
    });
    const station = await registerVenue(svc, health, {
      type: 'transport',
      subtype: 'metro',
      name: '大东门站',
      district: '340104',
    });
    const deskIn = await registerDesk(svc, { kind: 'hospital-desk', venueId: hospital.id, by: tokens['feed:health'] });
    const deskOut = await registerDesk(svc, {
      kind: 'service-hall',
      venueId: hospital.id,
      by: tokens['feed:government-services'],
    });
    tokens['desk-in'] = deskIn.token;
    tokens['desk-out'] = deskOut.token;
    w = { mall, school, portA, portB, resident, hospital, station, desk: deskIn.desk };
  });
  after(async () => {
    await svc?.close();
  });

  it('enumerates every role that can hold a token', () => {
    const roles = new Set(WHO.filter((x) => x !== 'none').map((x) => x.split(/[:-]/)[0]));
    expect([...roles].sort()).to.deep.equal([...AUTHORITY_ROLES, 'resident'].sort());
  });

  it('tries every action of the table, and nothing the table does not have', () => {
    expect([...new Set(CASES.map((c) => c.action))].sort()).to.deep.equal(Object.keys(PERMISSIONS).sort());
  });

  it('leaves no authority role check outside the table in server/routes', () => {
    const dir = join(ROOT, 'server', 'routes');
    for (const file of readdirSync(dir)) {
      const text = readFileSync(join(dir, file), 'utf8');
      for (const m of text.matchAll(/requireRole\(([^)]*)\)/g))
        expect(m[1], `${file}: requireRole(${m[1]})`).to.match(/^ctx, 'resident'$/);
      expect(text, file).to.not.match(/p(rincipal)?\.role\s*[!=]==/);
    }
  });

  for (const c of CASES) {
    it(`${c.action} — ${c.what}: ${c.allowed.join(', ')}; 403 for the other tokens, 401 without one`, async () => {
      const wrong: string[] = [];
      for (const who of WHO) {
        const prepared = await c.prepare?.(svc, w);
        const head = await svc.head();
        const r = await c.send(svc, w, tokens[who], prepared);
        const want = c.allowed.includes(who) ? c.ok : who === 'none' ? 401 : 403;
        if (r.status !== want) {
          wrong.push(`${who}: ${r.status} ${JSON.stringify(r.body?.error ?? '')}, wanted ${want}`);
          continue;
        }
        if (want === 401 || want === 403) {
          expect(r.body.error.code, who).to.equal(want === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN');
          if (want === 403) expect(r.body.error.message, who).to.include(c.action);
          expect(await svc.head(), `${who} was refused but the ledger moved`).to.deep.equal(head);
        }
        // Let a re-evaluation sweep a success started (rules, risk areas) end before the next head is read.
        else await svc.running.services.reevaluator.sweepAll('permission test');
      }
      expect(wrong, wrong.join('\n')).to.deep.equal([]);
    });
  }
});

describe('the attack of issue 4, scripted', function () {
  this.timeout(60_000);
  let svc: TestService;
  let health: string;
  let mallOperator: string;
  let portA: Venue;
  let portB: Venue;
  let mall: Venue;

  /** Sends and checks the request was refused with `status`, the error naming `action` (or the field), and the ledger did not move. */
  const refused = async (send: () => Promise<Reply>, status: number, code: string, naming: string) => {
    const head = await svc.head();
    const r = await send();
    expect(r.status, JSON.stringify(r.body)).to.equal(status);
    expect(r.body.error.code).to.equal(code);
    if (status === 403) expect(r.body.error.message).to.include(naming);
    else expect(r.body.error.fields.map((f: { path: string }) => f.path)).to.include(naming);
    expect(await svc.head()).to.deep.equal(head);
    return r;
  };

  before(async () => {
    svc = await startTestService({ config: { REVIEW_INTERVAL_SECONDS: 3600 } });
    health = await svc.token('health');
    mallOperator = await svc.token('operator', {
      name: '银泰中心 operator',
      scope: { venueTypes: ['crowded-place'], districts: ['340100'] },
    });
    mall = await registerVenue(svc, mallOperator, {
      type: 'crowded-place',
      subtype: 'mall',
      name: '银泰中心',
      district: '340104',
    });
    portA = await registerVenue(svc, health, {
      type: 'border',
      subtype: 'port-of-entry',
      name: '新桥机场口岸',
      district: '340123',
    });
    portB = await registerVenue(svc, health, {
      type: 'border',
      subtype: 'provincial-checkpoint',
      name: '皖苏界检查站',
      district: '341302',
    });
  });
  after(async () => {
    await svc?.close();
  });

  describe('a shopping-mall operator', () => {
    const venue = (json: Record<string, unknown>) => () =>
      svc.call('POST', '/v1/venues', { token: mallOperator, json });

    it('cannot register a border venue (403)', async () => {
      await refused(
        venue({ type: 'border', subtype: 'port-of-entry', name: '假口岸', district: '340104' }),
        403,
        'FORBIDDEN',
        'venue.register',
      );
    });

    it('cannot register a venue outside its districts (403)', async () => {
      await refused(
        venue({ type: 'crowded-place', name: '芜湖万达', district: '340202' }),
        403,
        'FORBIDDEN',
        'venue.register',
      );
    });

    it('cannot register a venue of a type its token does not allow (403)', async () => {
      await refused(
        venue({ type: 'school', name: '蜀山小学', district: '340104' }),
        403,
        'FORBIDDEN',
        'venue.register',
      );
    });

    it('still registers a mall in its city', async () => {
      expect(
        (await venue({ type: 'crowded-place', subtype: 'restaurant', name: '老乡鸡', district: '340102' })()).status,
      ).to.equal(201);
    });

    it('cannot code anyone at a border post (403), nor at its own mall', async () => {
      for (const id of [portA.id, mall.id]) {
        await refused(
          () => svc.call('POST', '/v1/border/entries', { token: mallOperator, json: traveller(id) }),
          403,
          'FORBIDDEN',
          'border.entry',
        );
      }
    });

    it('cannot code anyone even at a border venue it registered before scopes existed (403)', async () => {
      // Such a venue could only have been registered through the old API; it is written as the service would have.
      const holder = (
        await svc.call('POST', '/v1/admin/tokens', {
          token: svc.adminToken,
          json: { role: 'operator', name: 'old border operator' },
        })
      ).body;
      const held = await svc.running.app.ledger.transact((tx) =>
        svc.running.services.venues.register(
          tx,
          { type: 'border', name: '旧口岸', district: '340123', requireTemperature: false },
          { role: 'operator', id: holder.id },
        ),
      );
      await refused(
        () => svc.call('POST', '/v1/border/entries', { token: holder.token, json: traveller(held.id) }),
        403,
        'FORBIDDEN',
        'border.entry',
      );
    });
  });

  describe('a border officer of port A', () => {
    let officer: string;
    before(async () => {
      officer = await svc.token('border', { scope: { venues: [portA.id] } });
    });

    it('cannot code a traveller at port B (403)', async () => {
      await refused(
        () => svc.call('POST', '/v1/border/entries', { token: officer, json: traveller(portB.id) }),
        403,
        'FORBIDDEN',
        'border.entry',
      );
    });

    it('codes a traveller at port A', async () => {
      const r = await svc.call('POST', '/v1/border/entries', { token: officer, json: traveller(portA.id) });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body.resident.colour).to.equal('red');
    });

    it('sees port A in its venue list and nothing else', async () => {
      const r = await svc.call('GET', '/v1/venues', { token: officer });
      expect(r.body.venues.map((v: { id: string }) => v.id)).to.deep.equal([portA.id]);
    });
  });

  describe('a token with an invalid scope is refused at creation (400 VALIDATION_FAILED naming the field)', () => {
    const cases: Array<[string, () => Record<string, unknown>, string]> = [
      [
        'an operator allowed border posts',
        () => ({ role: 'operator', scope: { venueTypes: ['crowded-place', 'border'] } }),
        'scope.venueTypes.1',
      ],
      [
        'an operator with an unknown venue type',
        () => ({ role: 'operator', scope: { venueTypes: ['spaceport'] } }),
        'scope.venueTypes.0',
      ],
      [
        'an operator with an unknown region code',
        () => ({ role: 'operator', scope: { districts: ['349999'] } }),
        'scope.districts.0',
      ],
      [
        'an operator with a region code of five digits',
        () => ({ role: 'operator', scope: { districts: ['34010'] } }),
        'scope.districts.0',
      ],
      [
        'an operator with no venue types at all',
        () => ({ role: 'operator', scope: { venueTypes: [] } }),
        'scope.venueTypes',
      ],
      [
        'an operator with a scope of free strings (the old form)',
        () => ({ role: 'operator', scope: ['340104'] }),
        'scope',
      ],
      ['an operator scoped to venues', () => ({ role: 'operator', scope: { venues: [portA.id] } }), 'scope'],
      ['a grid token without a scope', () => ({ role: 'grid' }), 'scope'],
      ['a grid token with an empty scope', () => ({ role: 'grid', scope: {} }), 'scope'],
      [
        'a grid token with an unknown region code',
        () => ({ role: 'grid', scope: { districts: ['340104', '999999'] } }),
        'scope.districts.1',
      ],
      [
        'a grid token scoped to a border post rather than a community',
        () => ({ role: 'grid', scope: { venues: [portA.id] } }),
        'scope.venues.0',
      ],
      ['a border token without a scope', () => ({ role: 'border' }), 'scope'],
      [
        'a border token at a mall',
        () => ({ role: 'border', scope: { venues: [portA.id, mall.id] } }),
        'scope.venues.1',
      ],
      [
        'a border token at a venue that does not exist',
        () => ({ role: 'border', scope: { venues: ['AAAAAAAAAAAAAAAA'] } }),
        'scope.venues.0',
      ],
      [
        'a border token at a malformed venue id',
        () => ({ role: 'border', scope: { venues: ['port-a'] } }),
        'scope.venues.0',
      ],
      [
        'a border token scoped to districts',
        () => ({ role: 'border', scope: { venues: [portA.id], districts: ['340100'] } }),
        'scope',
      ],
      ['a health token with a scope', () => ({ role: 'health', scope: { districts: ['340100'] } }), 'scope'],
      [
        'a feed token with a scope',
        () => ({ role: 'feed', source: 'telecom', scope: { districts: ['340100'] } }),
        'scope',
      ],
      ['an auditor with a source', () => ({ role: 'auditor', source: 'health' }), 'source'],
      ['a second admin', () => ({ role: 'admin' }), 'role'],
      // A desk token is made only by registering its desk (POST /v1/desks), by the desk's sector authority.
      ['a desk token', () => ({ role: 'desk', scope: { desk: 'AAAAAAAAAAAAAAAA' } }), 'role'],
    ];
    for (const [what, body, field] of cases) {
      it(`refuses ${what}, naming ${field}`, async () => {
        await refused(
          () =>
            svc.call('POST', '/v1/admin/tokens', { token: svc.adminToken, json: { name: 'invalid scope', ...body() } }),
          400,
          'VALIDATION_FAILED',
          field,
        );
      });
    }
  });

  describe('scope defaults and the ledger', () => {
    it('gives an operator without a scope every venue type but border, within the issuer’s region, and records it', async () => {
      const r = await svc.call('POST', '/v1/admin/tokens', {
        token: svc.adminToken,
        json: { role: 'operator', name: 'default scope' },
      });
      expect(r.status).to.equal(201);
      expect(r.body.scope).to.deep.equal({
        venueTypes: ['residential-community', 'enterprise', 'crowded-place', 'public-service', 'transport', 'school'],
        districts: ['340000'],
      });
      const event = await svc.running.app.ledger.getEvent((await svc.head()).seq);
      expect(event!.type).to.equal('token.issued');
      expect(event!.data).to.deep.include({ id: r.body.id, role: 'operator', scope: r.body.scope });
      const outside = await svc.call('POST', '/v1/venues', {
        token: r.body.token,
        json: { type: 'crowded-place', name: '新街口', district: '320102' },
      });
      expect(outside.status).to.equal(403);
    });

    it('reads a grid token issued before scopes were validated (one array of regions and venue ids) as before', async () => {
      const old = await svc.running.app.ledger.transact((tx) =>
        issueToken(tx, { role: 'grid', name: 'old grid', scope: ['340104'] }),
      );
      const resident = await newResident(svc, {
        district: '340104',
        declaration: { temperatureC: 36.5, contactWithCase: true },
      });
      const list = await svc.call('GET', '/v1/grid/residents', { token: old.token });
      expect(list.body.residents.map((x: { pseudonym: string }) => x.pseudonym)).to.include(resident.pseudonym);
      expect(
        (
          await svc.call('POST', '/v1/grid/visits', {
            token: old.token,
            json: { pseudonym: resident.pseudonym, outcome: 'verified' },
          })
        ).status,
      ).to.equal(201);
    });

    it('refuses border work to token records written around the validation (an operator listing border, a border officer at a mall)', async () => {
      const operator = await svc.running.app.ledger.transact((tx) =>
        issueToken(tx, { role: 'operator', name: 'forged', scope: { venueTypes: ['border'], districts: ['340000'] } }),
      );
      await refused(
        () =>
          svc.call('POST', '/v1/venues', {
            token: operator.token,
            json: { type: 'border', name: '假口岸', district: '340104' },
          }),
        403,
        'FORBIDDEN',
        'venue.register',
      );
      const officer = await svc.running.app.ledger.transact((tx) =>
        issueToken(tx, { role: 'border', name: 'forged', scope: { venues: [mall.id] } }),
      );
      await refused(
        () => svc.call('POST', '/v1/border/entries', { token: officer.token, json: traveller(mall.id) }),
        403,
        'FORBIDDEN',
        'border.entry',
      );
      await refused(
        () => svc.call('GET', `/v1/venues/${mall.id}/scans`, { token: officer.token }),
        403,
        'FORBIDDEN',
        'venue.scans.read',
      );
    });

    it('lets an operator token issued before scopes run the venues it registered, but register no more', async () => {
      const old = await svc.running.app.ledger.transact((tx) =>
        issueToken(tx, { role: 'operator', name: 'old operator' }),
      );
      const held = await svc.running.app.ledger.transact((tx) =>
        svc.running.services.venues.register(
          tx,
          { type: 'crowded-place', name: '旧商场', district: '340104', requireTemperature: false },
          { role: 'operator', id: old.id },
        ),
      );
      expect((await svc.call('GET', `/v1/venues/${held.id}/scans`, { token: old.token })).status).to.equal(200);
      await refused(
        () =>
          svc.call('POST', '/v1/venues', {
            token: old.token,
            json: { type: 'crowded-place', name: '新商场', district: '340104' },
          }),
        403,
        'FORBIDDEN',
        'venue.register',
      );
    });
  });
});
