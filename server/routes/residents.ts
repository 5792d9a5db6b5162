import type Router from '@koa/router';
import type { Context } from 'koa';
import { renderQrPng, renderQrSvg } from '../../verifier/src/qr';
import type { CodeMode } from '../../verifier/src';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { ServiceError } from '../errors';
import { jsonBody } from '../http/body';
import type { RouteDoc } from '../http/openapi';
import { requireRole, requireSession, type Principal } from '../http/auth';
import { z } from 'zod';
import { validateIdentity } from '../domain/identity';
import type { VerifiedIdentity } from '../identity/sessions';
import { Idempotency } from '../services/idempotency';
import {
  applySchema,
  checkApplication,
  codeView,
  residentView,
  type ApplyInput,
  type IssuedCode,
  type ResidentRecord,
} from '../services/residents';

/** The body of POST /v1/residents/me/rebind/confirm. */
export const rebindConfirmSchema = z.strictObject({ code: z.string().regex(/^\d{6}$/, 'the 6-digit code') });

function modeOf(ctx: Context): CodeMode {
  const m = ctx.query.mode ?? 'dynamic';
  if (m !== 'dynamic' && m !== 'printed')
    throw new ServiceError('VALIDATION_FAILED', 'mode must be dynamic or printed', [
      { path: 'mode', code: 'invalid_value', message: 'dynamic or printed' },
    ]);
  return m;
}

/**
 * An application may repeat the ID it is for, but only the signed-in one: a body naming any
 * other ID (or name) is refused the same way whether or not that ID has a record.
 */
function assertOwnIdentity(input: ApplyInput, identity: VerifiedIdentity, now: Date): void {
  const refuse = () =>
    new ServiceError(
      'IDENTITY_NOT_YOURS',
      'a resident applies only for the identity they signed in with; leave idType, idNumber and name out',
    );
  if (input.idType !== undefined && input.idType !== identity.idType) throw refuse();
  if (input.idNumber !== undefined) {
    const id = validateIdentity(identity.idType, input.idNumber, now);
    if (!id.ok || id.normalized !== identity.idNumber) throw refuse();
  }
  if (input.name !== undefined && input.name.normalize('NFC') !== identity.name) throw refuse();
}

/** The abuse limits an application counts against, in order. */
export const APPLY_LIMITS = ['apply-address', 'apply-resident'] as const;

/**
 * 申领 for a signed-in session (`POST /v1/residents` after its limits, session check, key and
 * body; a ledger writer runs it for its HTTP workers too): the record of the identity the
 * provider vouched for, created or updated, with the current code. A retry with the same
 * Idempotency-Key gets the first answer.
 */
export async function applyAs(
  app: AppContext,
  { residents, idempotency, sessions }: Pick<Services, 'residents' | 'idempotency' | 'sessions'>,
  p: Principal,
  key: string | undefined,
  input: ApplyInput,
): Promise<{ status: number; body: unknown }> {
  const identity = await sessions.identity(p.session!);
  assertOwnIdentity(input, identity, app.clock());
  const full = { ...input, idType: identity.idType, idNumber: identity.idNumber, name: identity.name };
  const checked = checkApplication(full, app.clock());
  // Retries are matched per identity, so one person's key can never replay another's answer.
  const scope = `apply:${p.pseudonym}`;
  return app.ledger.transact(async (tx) => {
    const prior = await idempotency.replay(tx, scope, key, input);
    if (prior) return prior;
    const r = await residents.apply(tx, full, checked, { account: p.account });
    const res = {
      status: r.created ? 201 : 200,
      body: {
        resident: residentView(r.record, app.secrets.encryptionKey),
        code: codeView(r.code, 'dynamic', app.config.CODE_REFRESH_MARGIN_SECONDS, app.config.ISSUER_ID),
      },
    };
    idempotency.remember(tx, scope, key, input, res);
    return res;
  });
}

export function residentRoutes(
  router: Router,
  app: AppContext,
  { residents, idempotency, sessions, rebind, limits }: Services,
): void {
  /**
   * 申领: the signed-in resident applies for (or updates) the record of the identity the
   * provider vouched for. The body gives the declaration, district and phone; an ID in the
   * body must be that identity's, or the request is refused without saying whether it exists.
   */
  router.post('/v1/residents', limits.limit(...APPLY_LIMITS), async (ctx) => {
    const p = requireSession(ctx);
    const key = Idempotency.validate(ctx.get('idempotency-key'));
    const input = await jsonBody(ctx, applySchema, app.config.BODY_LIMIT_BYTES);
    const response = await applyAs(app, { residents, idempotency, sessions }, p, key, input);
    ctx.status = response.status;
    ctx.body = response.body;
  });

  /** 换绑, step 1: a session whose identity's record another account holds asks for a code to the phone on record. */
  router.post('/v1/residents/me/rebind', limits.limit('otp-address', 'otp-resident'), async (ctx) => {
    const p = requireSession(ctx);
    ctx.status = 202;
    ctx.body = await rebind.start(p);
  });

  /** 换绑, step 2: the code moves the record to this account; the old account's sessions end. */
  router.post('/v1/residents/me/rebind/confirm', limits.limit('otp-address'), async (ctx) => {
    const p = requireSession(ctx);
    const { code } = await jsonBody(ctx, rebindConfirmSchema, app.config.BODY_LIMIT_BYTES);
    ctx.body = { resident: residentView(await rebind.confirm(p, code), app.secrets.encryptionKey) };
  });

  addRecordRoute(router, (p) => ownRecord(app, p));

  addCodeRoutes(router, app.config, async (p, mode) => {
    const { code } = await app.ledger.transact((tx) => residents.currentCode(tx, p.pseudonym!, mode));
    return code;
  });
}

/** What GET /v1/residents/me answers a resident: their record, masked. @throws NOT_FOUND */
export async function ownRecord(app: AppContext, p: Principal): Promise<{ resident: ReturnType<typeof residentView> }> {
  const r = await app.ledger.read<ResidentRecord>('residents', p.pseudonym!);
  if (!r) throw new ServiceError('NOT_FOUND', 'no resident for this token');
  return { resident: residentView(r, app.secrets.encryptionKey) };
}

/**
 * GET /v1/residents/me: the signed-in resident's own record. `record` gives it: `ownRecord` in
 * one process, a worker's copy of the writer's answer under WORKERS (server/cluster/worker.ts).
 */
export function addRecordRoute(router: Router, record: (p: Principal) => Promise<unknown>): void {
  router.get('/v1/residents/me', async (ctx) => {
    ctx.body = await record(requireRole(ctx, 'resident'));
  });
}

/**
 * GET /v1/residents/me/code (and .png, .svg): the signed-in resident's current code of a mode,
 * as JSON or drawn. `current` gives the code: the ledger's transaction in one process, a
 * worker's copy of the writer's answer under WORKERS (server/cluster/worker.ts).
 */
export function addCodeRoutes(
  router: Router,
  config: Pick<AppContext['config'], 'CODE_REFRESH_MARGIN_SECONDS' | 'ISSUER_ID'>,
  current: (p: Principal, mode: CodeMode) => Promise<IssuedCode>,
): void {
  const code = (format: 'json' | 'png' | 'svg') => async (ctx: Context) => {
    const p = requireRole(ctx, 'resident');
    const mode = modeOf(ctx);
    const c = await current(p, mode);
    ctx.set('Cache-Control', 'no-store');
    if (format === 'png') {
      ctx.type = 'image/png';
      ctx.body = Buffer.from(await renderQrPng(c.text));
    } else if (format === 'svg') {
      ctx.type = 'image/svg+xml';
      ctx.body = await renderQrSvg(c.text);
    } else {
      ctx.body = codeView(c, mode, config.CODE_REFRESH_MARGIN_SECONDS, config.ISSUER_ID);
    }
  };
  router.get('/v1/residents/me/code', code('json'));
  router.get('/v1/residents/me/code.png', code('png'));
  router.get('/v1/residents/me/code.svg', code('svg'));
}

/** The API document's entries for these routes (server/http/openapi.ts). */
const codeQuery = z.strictObject({ mode: z.enum(['dynamic', 'printed']).optional() });
const codeDoc = (suffix: string, type: string | undefined, what: string): RouteDoc => ({
  method: 'get',
  path: `/v1/residents/me/code${suffix}`,
  tag: 'residents',
  auth: 'resident',
  query: codeQuery,
  errors: ['NOT_FOUND'],
  summary: `One's current code, ${what}`,
  description: 'Re-issued near expiry or when the colour changes. Dynamic codes live 10 minutes, printed ones 7 days.',
  ok: { status: 200, description: what, ...(type ? { type, schema: { type: 'string' } } : {}) },
});

export const residentDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/v1/residents',
    tag: 'residents',
    auth: 'resident',
    body: applySchema,
    idempotent: true,
    limited: true,
    errors: ['IDENTITY_NOT_YOURS', 'INVALID_ID_NUMBER', 'UNKNOWN_REGION', 'REBIND_REQUIRED', 'IDENTITY_MISMATCH'],
    summary: 'Apply (申领) for the signed-in identity, or update its record',
    description:
      "Who the person is comes from the sign-in: `idType`, `idNumber` and `name` may be left out, and if sent must be the signed-in identity's (403 `IDENTITY_NOT_YOURS` otherwise). 201 on the first application, 200 on an update.",
    example: {
      phone: '13800138000',
      district: '340104',
      declaration: { temperatureC: 36.5, symptoms: [], visited: [] },
    },
    ok: { status: 201, description: '`{ resident, code }`: the masked record and a dynamic code' },
    alsoOk: { 200: 'The record was updated: `{ resident, code }`' },
  },
  {
    method: 'post',
    path: '/v1/residents/me/rebind',
    tag: 'residents',
    auth: 'resident',
    limited: true,
    errors: ['CONFLICT', 'NOT_FOUND'],
    summary: '换绑, step 1: send a code to the phone on record',
    description: "For a session whose identity's record another account holds.",
    ok: { status: 202, description: 'Where the code went (masked) and until when it works' },
  },
  {
    method: 'post',
    path: '/v1/residents/me/rebind/confirm',
    tag: 'residents',
    auth: 'resident',
    limited: true,
    body: rebindConfirmSchema,
    errors: ['OTP_INVALID', 'OTP_EXPIRED', 'CONFLICT', 'NOT_FOUND'],
    example: { code: '123456' },
    summary: '换绑, step 2: the code moves the record to this account',
    description: "The old account's sessions end.",
    ok: { status: 200, description: '`{ resident }`' },
  },
  {
    method: 'get',
    path: '/v1/residents/me',
    tag: 'residents',
    auth: 'resident',
    errors: ['NOT_FOUND'],
    summary: "One's own record, masked, with the reasons for the colour",
    ok: { status: 200, description: '`{ resident }`' },
  },
  codeDoc('', undefined, 'as JSON (`{ text, colour, mode, expiresAt, ... }`)'),
  codeDoc('.png', 'image/png', 'as a QR code image (PNG)'),
  codeDoc('.svg', 'image/svg+xml', 'as a QR code image (SVG)'),
];
