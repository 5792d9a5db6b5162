import type Router from '@koa/router';
import type { Context } from 'koa';
import { renderQrPng, renderQrSvg } from '../../verifier/cli/qr';
import type { CodeMode } from '../../verifier/src';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { ServiceError } from '../errors';
import { jsonBody } from '../http/body';
import { requireRole, requireSession } from '../http/auth';
import { z } from 'zod';
import { validateIdentity } from '../domain/identity';
import type { VerifiedIdentity } from '../identity/sessions';
import { Idempotency } from '../services/idempotency';
import { applySchema, checkApplication, codeView, residentView, type ApplyInput, type ResidentRecord } from '../services/residents';

function modeOf(ctx: Context): CodeMode {
  const m = ctx.query.mode ?? 'dynamic';
  if (m !== 'dynamic' && m !== 'printed') throw new ServiceError('VALIDATION_FAILED', 'mode must be dynamic or printed', [{ path: 'mode', code: 'invalid_value', message: 'dynamic or printed' }]);
  return m;
}

/**
 * An application may repeat the ID it is for, but only the signed-in one: a body naming any
 * other ID (or name) is refused the same way whether or not that ID has a record.
 */
function assertOwnIdentity(input: ApplyInput, identity: VerifiedIdentity, now: Date): void {
  const refuse = () => new ServiceError('IDENTITY_NOT_YOURS', 'a resident applies only for the identity they signed in with; leave idType, idNumber and name out');
  if (input.idType !== undefined && input.idType !== identity.idType) throw refuse();
  if (input.idNumber !== undefined) {
    const id = validateIdentity(identity.idType, input.idNumber, now);
    if (!id.ok || id.normalized !== identity.idNumber) throw refuse();
  }
  if (input.name !== undefined && input.name.normalize('NFC') !== identity.name) throw refuse();
}

export function residentRoutes(router: Router, app: AppContext, { residents, idempotency, sessions, rebind, limits }: Services): void {
  /**
   * 申领: the signed-in resident applies for (or updates) the record of the identity the
   * provider vouched for. The body gives the declaration, district and phone; an ID in the
   * body must be that identity's, or the request is refused without saying whether it exists.
   */
  router.post('/v1/residents', limits.limit('apply-address', 'apply-resident'), async (ctx) => {
    const p = requireSession(ctx);
    const key = Idempotency.validate(ctx.get('idempotency-key'));
    const input = await jsonBody(ctx, applySchema, app.config.BODY_LIMIT_BYTES);
    const identity = await sessions.identity(p.session!);
    assertOwnIdentity(input, identity, app.clock());
    const full = { ...input, idType: identity.idType, idNumber: identity.idNumber, name: identity.name };
    const checked = checkApplication(full, app.clock());
    // Retries are matched per identity, so one person's key can never replay another's answer.
    const scope = `apply:${p.pseudonym}`;
    const response = await app.ledger.transact(async (tx) => {
      const prior = await idempotency.replay(tx, scope, key, input);
      if (prior) return prior;
      const r = await residents.apply(tx, full, checked, { account: p.account });
      const res = {
        status: r.created ? 201 : 200,
        body: { resident: residentView(r.record), code: codeView(r.code, 'dynamic', app.config.CODE_REFRESH_MARGIN_SECONDS, app.config.ISSUER_ID) },
      };
      idempotency.remember(tx, scope, key, input, res);
      return res;
    });
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
    const { code } = await jsonBody(ctx, z.strictObject({ code: z.string().regex(/^\d{6}$/, 'the 6-digit code') }), app.config.BODY_LIMIT_BYTES);
    ctx.body = { resident: residentView(await rebind.confirm(p, code)) };
  });

  router.get('/v1/residents/me', async (ctx) => {
    const p = requireRole(ctx, 'resident');
    const r = await app.ledger.read<ResidentRecord>('residents', p.pseudonym!);
    if (!r) throw new ServiceError('NOT_FOUND', 'no resident for this token');
    ctx.body = { resident: residentView(r) };
  });

  const code = (format: 'json' | 'png' | 'svg') => async (ctx: Context) => {
    const p = requireRole(ctx, 'resident');
    const mode = modeOf(ctx);
    const { code: c } = await app.ledger.transact((tx) => residents.currentCode(tx, p.pseudonym!, mode));
    ctx.set('Cache-Control', 'no-store');
    if (format === 'png') {
      ctx.type = 'image/png';
      ctx.body = Buffer.from(await renderQrPng(c.text));
    } else if (format === 'svg') {
      ctx.type = 'image/svg+xml';
      ctx.body = await renderQrSvg(c.text);
    } else {
      ctx.body = codeView(c, mode, app.config.CODE_REFRESH_MARGIN_SECONDS, app.config.ISSUER_ID);
    }
  };
  router.get('/v1/residents/me/code', code('json'));
  router.get('/v1/residents/me/code.png', code('png'));
  router.get('/v1/residents/me/code.svg', code('svg'));
}
