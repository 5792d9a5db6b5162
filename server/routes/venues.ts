import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { renderQrPng, renderQrSvg } from '../../verifier/src/qr';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { ServiceError } from '../errors';
import { jsonBody } from '../http/body';
import type { RouteDoc } from '../http/openapi';
import { requireRole, type Principal } from '../http/auth';
import { authorize, permits, requireGrant } from '../http/permissions';
import { checkinSchema, dailyCheckinSchema, staffScanSchema } from '../services/scans';
import { venueSchema, venueView, type VenueRecord, type VenueService } from '../services/venues';
import type { LedgerEvent } from '../../verifier/src/event';
import type { ResidentRecord } from '../services/residents';
import { shanghaiDay } from '../services/venues';

/** The body of POST /v1/venues/:id/certificates. */
export const certificateSchema = z.strictObject({
  certificateNo: z.string().trim().min(4).max(40),
  validUntil: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD'),
});

/** The body of POST /v1/venues/:id/roster. */
export const rosterJoinSchema = z.strictObject({ venueCode: z.string().min(1).max(2048) });

/** Loads the scan events of a subject, newest first. */
async function scanEvents(app: AppContext, subject: string, limit: number): Promise<LedgerEvent[]> {
  const seqs = await app.ledger.subjectSeqs(subject);
  const out: LedgerEvent[] = [];
  for (let i = seqs.length - 1; i >= 0 && out.length < limit; i--) {
    const e = (await app.ledger.getEvent(seqs[i]))!;
    if (e.type === 'scan.recorded') out.push(e);
  }
  return out;
}

type VenueAction =
  'venue.read' | 'venue.code' | 'venue.scans.read' | 'venue.stats.read' | 'venue.certificate' | 'venue.roster.read';

/** The venue `:id` names, when the request may do `action` there: 401/403 by role first, then 404, then 403 for another's venue. */
export async function venueFor(
  ctx: Context,
  venues: VenueService,
  action: VenueAction,
): Promise<{ venue: VenueRecord; principal: Principal }> {
  requireGrant(ctx, action);
  const venue = await venues.get(ctx.params.id);
  return { venue, principal: await authorize(ctx, action, venue) };
}

function limitOf(ctx: Context): number {
  const n = Number(ctx.query.limit ?? 100);
  return Number.isSafeInteger(n) && n > 0 ? Math.min(n, 1000) : 100;
}

export function venueRoutes(router: Router, app: AppContext, { venues, scans, limits }: Services): void {
  const checkinLimits = limits.limit('checkin-address', 'checkin-resident');

  router.post('/v1/venues', async (ctx) => {
    requireGrant(ctx, 'venue.register');
    const input = await jsonBody(ctx, venueSchema, app.config.BODY_LIMIT_BYTES);
    const p = await authorize(ctx, 'venue.register', input);
    const v = await app.ledger.transact((tx) => venues.register(tx, input, p));
    ctx.status = 201;
    ctx.body = venueView(v);
  });
  router.get('/v1/venues', async (ctx) => {
    const p = requireGrant(ctx, 'venue.read');
    const mine = [];
    for (const v of await venues.all())
      if (await permits(p, 'venue.read', v)) mine.push(venueView(await venues.current(v)));
    ctx.body = { venues: mine };
  });
  router.get('/v1/venues/:id', async (ctx) => {
    ctx.body = venueView(await venues.current((await venueFor(ctx, venues, 'venue.read')).venue));
  });
  const code = (format: 'png' | 'svg') => async (ctx: Context) => {
    const v = await venues.current((await venueFor(ctx, venues, 'venue.code')).venue);
    if (format === 'png') {
      ctx.type = 'image/png';
      ctx.body = Buffer.from(await renderQrPng(v.code.text));
    } else {
      ctx.type = 'image/svg+xml';
      ctx.body = await renderQrSvg(v.code.text);
    }
  };
  router.get('/v1/venues/:id/code.png', code('png'));
  router.get('/v1/venues/:id/code.svg', code('svg'));

  router.get('/v1/venues/:id/scans', async (ctx) => {
    const { venue: v } = await venueFor(ctx, venues, 'venue.scans.read');
    const events = await scanEvents(app, `v:${v.id}`, limitOf(ctx));
    ctx.body = {
      venue: venueView(await venues.current(v)),
      scans: events.map((e) => ({ seq: e.seq, at: e.at, ...e.data })),
    };
  });

  router.post('/v1/venues/:id/certificates', async (ctx) => {
    const { venue: v, principal: p } = await venueFor(ctx, venues, 'venue.certificate');
    if (v.type !== 'school')
      throw new ServiceError('VALIDATION_FAILED', 'only schools register paper certificates', [
        { path: 'id', code: 'invalid', message: 'a school venue' },
      ]);
    const body = await jsonBody(ctx, certificateSchema, app.config.BODY_LIMIT_BYTES);
    const id = await app.ledger.transact((tx) => venues.addCertificate(tx, v, body.certificateNo, body.validUntil, p));
    ctx.status = 201;
    ctx.body = { certificate: id, validUntil: body.validUntil };
  });

  /** A resident joins a venue's roster (staff of an enterprise, pupils of a school) by showing its venue code. */
  router.post('/v1/venues/:id/roster', async (ctx) => {
    const p = requireRole(ctx, 'resident');
    const body = await jsonBody(ctx, rosterJoinSchema, app.config.BODY_LIMIT_BYTES);
    const v = await venues.current(await venues.get(ctx.params.id));
    // The code on the wall may be the one before a key rotation: any code of this venue that verifies will do.
    if (v.code.text !== body.venueCode && (await scans.verifyVenueCode(body.venueCode)).venue.id !== v.id) {
      throw new ServiceError('CODE_REJECTED', 'this is not the code of that venue');
    }
    await app.ledger.transact(async (tx) => {
      if (await tx.get('index', `roster/${v.id}/${p.pseudonym}`)) return;
      tx.put('index', `roster/${v.id}/${p.pseudonym}`, { joinedAt: tx.now.toISOString() });
      await tx.append({ type: 'roster.joined', subjects: [`r:${p.pseudonym}`, `v:${v.id}`], data: { venue: v.id } });
    });
    ctx.status = 201;
    ctx.body = { venue: v.id, joined: true };
  });

  /** Who on the roster has and has not done today's health check-in, and who is not green. */
  router.get('/v1/venues/:id/roster', async (ctx) => {
    const { venue: v } = await venueFor(ctx, venues, 'venue.roster.read');
    const day = shanghaiDay(app.clock());
    const members = [];
    for await (const key of app.ledger.space('index').keys({ gt: `roster/${v.id}/`, lt: `roster/${v.id}/~` })) {
      const pseudonym = key.slice(`roster/${v.id}/`.length);
      const r = await app.ledger.read<ResidentRecord>('residents', pseudonym);
      if (!r) continue;
      members.push({
        maskedName: r.maskedName,
        idLast4: r.idLast4,
        colour: r.colour,
        checkedInToday: !!(await app.ledger.read('index', `daily/${pseudonym}/${day}`)),
      });
    }
    ctx.body = {
      day,
      members,
      summary: {
        total: members.length,
        checkedIn: members.filter((m) => m.checkedInToday).length,
        notGreen: members.filter((m) => m.colour !== 'green').length,
      },
    };
  });

  router.post('/v1/scans', async (ctx) => {
    requireGrant(ctx, 'venue.scan');
    const input = await jsonBody(ctx, staffScanSchema, app.config.BODY_LIMIT_BYTES);
    // What a scan reads of a venue never changes once registered (only its code is re-signed),
    // so it is read (and the scan authorised) before the transaction.
    const venue = await venues.get(input.venueId);
    await authorize(ctx, 'venue.scan', venue);
    // Signature checks run before the transaction, so the ledger's writer never waits on them.
    const verified = input.code ? await scans.verifyResidentCode(input.code) : undefined;
    ctx.status = 201;
    ctx.body = await app.ledger.transact((tx) => scans.staffScan(tx, input, venue, verified));
  });

  router.post('/v1/checkins', checkinLimits, async (ctx) => {
    const p = requireRole(ctx, 'resident');
    const input = await jsonBody(ctx, checkinSchema, app.config.BODY_LIMIT_BYTES);
    const venueCode = await scans.verifyVenueCode(input.venueCode);
    const out = await app.ledger.transact((tx) => scans.selfCheckin(tx, input, p, venueCode));
    ctx.status = out.replayed ? 200 : 201;
    ctx.body = out;
  });

  router.post('/v1/checkins/daily', checkinLimits, async (ctx) => {
    const p = requireRole(ctx, 'resident');
    const input = await jsonBody(ctx, dailyCheckinSchema, app.config.BODY_LIMIT_BYTES);
    ctx.status = 201;
    ctx.body = await app.ledger.transact((tx) => scans.dailyCheckin(tx, input, p));
  });

  router.get('/v1/residents/me/scans', async (ctx) => {
    const p = requireRole(ctx, 'resident');
    const events = await scanEvents(app, `r:${p.pseudonym}`, limitOf(ctx));
    const names = new Map<string, string>();
    const out = [];
    for (const e of events) {
      const id = e.data.venue as string;
      if (!names.has(id)) names.set(id, (await venues.get(id).catch(() => undefined))?.name ?? id);
      out.push({
        seq: e.seq,
        at: e.at,
        venue: { id, name: names.get(id), type: e.data.venueType },
        decision: e.data.decision,
        colour: e.data.colour,
        method: e.data.method,
      });
    }
    ctx.body = { scans: out };
  });
}

/** The API document's entries for these routes (server/http/openapi.ts). */
// Documents limitOf above: at most 1000, 100 when left out or not a positive integer.
const limitQuery = z.strictObject({ limit: z.int().min(1).max(1000).optional() });
const venueCode = (suffix: string, type: string): RouteDoc => ({
  method: 'get',
  path: `/v1/venues/:id/code${suffix}`,
  tag: 'venues',
  auth: 'venue.code',
  errors: ['NOT_FOUND'],
  summary: `The venue's signed code to print (${suffix.slice(1).toUpperCase()})`,
  description: 'After a key rotation, a new code under the new key: print it before the old key leaves the trust list.',
  ok: { status: 200, description: 'A QR code image', type, schema: { type: 'string' } },
});

export const venueDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/v1/venues',
    tag: 'venues',
    auth: 'venue.register',
    body: venueSchema,
    errors: ['UNKNOWN_REGION'],
    summary: 'Register a venue',
    description:
      'A `transport` venue (a bus or taxi) may name its plate or route. Border posts are registered by health only.',
    example: { type: 'school', name: '合肥一中', district: '340104' },
    ok: { status: 201, description: 'The venue, with its code' },
  },
  {
    method: 'get',
    path: '/v1/venues',
    tag: 'venues',
    auth: 'venue.read',
    summary: 'The venues this token may see',
    ok: { status: 200, description: '`{ venues }`' },
  },
  {
    method: 'get',
    path: '/v1/venues/:id',
    tag: 'venues',
    auth: 'venue.read',
    errors: ['NOT_FOUND'],
    summary: 'A venue and its signed code',
    ok: { status: 200, description: 'The venue' },
  },
  venueCode('.png', 'image/png'),
  venueCode('.svg', 'image/svg+xml'),
  {
    method: 'get',
    path: '/v1/venues/:id/scans',
    tag: 'venues',
    auth: 'venue.scans.read',
    query: limitQuery,
    errors: ['NOT_FOUND'],
    summary: "The venue's scan log, newest first",
    ok: { status: 200, description: '`{ venue, scans }`' },
  },
  {
    method: 'post',
    path: '/v1/venues/:id/certificates',
    tag: 'venues',
    auth: 'venue.certificate',
    body: certificateSchema,
    errors: ['NOT_FOUND', 'CONFLICT'],
    summary: "Register a school's paper health certificate (有单认单)",
    description: 'Schools only; a keyed hash of the number is kept, not the number.',
    example: { certificateNo: 'HF-2026-000123', validUntil: '2026-03-20' },
    ok: {
      status: 201,
      description: "The certificate's id",
      schema: z.object({ certificate: z.string(), validUntil: z.string() }),
    },
  },
  {
    method: 'post',
    path: '/v1/venues/:id/roster',
    tag: 'venues',
    auth: 'resident',
    body: rosterJoinSchema,
    errors: ['NOT_FOUND', 'CODE_REJECTED'],
    summary: "Join a venue's roster (staff of an enterprise, pupils of a school) with its venue code",
    example: { venueCode: 'AK1:...' },
    ok: { status: 201, description: 'Joined', schema: z.object({ venue: z.string(), joined: z.literal(true) }) },
  },
  {
    method: 'get',
    path: '/v1/venues/:id/roster',
    tag: 'venues',
    auth: 'venue.roster.read',
    errors: ['NOT_FOUND'],
    summary: "Who on the roster has done today's check-in, and who is not green",
    ok: { status: 200, description: '`{ day, members, summary }`' },
  },
  {
    method: 'post',
    path: '/v1/scans',
    tag: 'scans',
    auth: 'venue.scan',
    body: staffScanSchema,
    errors: ['NOT_FOUND', 'INVALID_CODE'],
    summary: "Staff scan (核验) of a resident's code, or a pupil's paper certificate",
    description:
      "The code may come from any trusted province. It is verified (key, signature, lifetime, expiry, status), decided by the venue's admission policy and recorded as one event. A refused code is a 201 with the decision, not an error. Send `code` or `certificateNo`.",
    example: { venueId: 'AAAAAAAAAAAAAAAA', code: 'AK1:...', temperatureC: 36.4 },
    ok: { status: 201, description: 'The decision and why' },
  },
  {
    method: 'post',
    path: '/v1/checkins',
    tag: 'scans',
    auth: 'resident',
    limited: true,
    body: checkinSchema,
    errors: ['CODE_REJECTED', 'NOT_FOUND'],
    summary: 'Self check-in (自助扫码) with a venue code',
    description: 'A repeat within CHECKIN_REPLAY_SECONDS answers 200 with the first answer.',
    example: { venueCode: 'AK1:...', temperatureC: 36.5 },
    ok: { status: 201, description: 'The decision' },
    alsoOk: { 200: 'A repeat within CHECKIN_REPLAY_SECONDS: the first answer' },
  },
  {
    method: 'post',
    path: '/v1/checkins/daily',
    tag: 'scans',
    auth: 'resident',
    limited: true,
    body: dailyCheckinSchema,
    errors: ['NOT_FOUND'],
    summary: 'Daily health check-in (每日健康打卡)',
    example: { temperatureC: 36.5, symptoms: [] },
    ok: { status: 201, description: 'The check-in' },
  },
  {
    method: 'get',
    path: '/v1/residents/me/scans',
    tag: 'scans',
    auth: 'resident',
    query: limitQuery,
    summary: "One's own scan history, newest first",
    ok: { status: 200, description: '`{ scans }`' },
  },
];
