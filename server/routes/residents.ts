import type Router from '@koa/router';
import type { Context } from 'koa';
import { renderQrPng, renderQrSvg } from '../../verifier/cli/qr';
import type { CodeMode } from '../../verifier/src';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { ServiceError } from '../errors';
import { jsonBody } from '../http/body';
import { requireRole } from '../http/auth';
import { Idempotency } from '../services/idempotency';
import { applySchema, checkApplication, codeView, residentView, type ResidentRecord } from '../services/residents';

function modeOf(ctx: Context): CodeMode {
  const m = ctx.query.mode ?? 'dynamic';
  if (m !== 'dynamic' && m !== 'printed') throw new ServiceError('VALIDATION_FAILED', 'mode must be dynamic or printed', [{ path: 'mode', code: 'invalid_value', message: 'dynamic or printed' }]);
  return m;
}

export function residentRoutes(router: Router, app: AppContext, { residents, idempotency, limits }: Services): void {
  router.post('/v1/residents', limits.limit('apply-address', 'apply-resident'), async (ctx) => {
    const key = Idempotency.validate(ctx.get('idempotency-key'));
    const input = await jsonBody(ctx, applySchema, app.config.BODY_LIMIT_BYTES);
    const checked = checkApplication(input, app.clock());
    const response = await app.ledger.transact(async (tx) => {
      const prior = await idempotency.replay(tx, 'apply', key, input);
      if (prior) return prior;
      const r = await residents.apply(tx, input, checked);
      const res = {
        status: r.created ? 201 : 200,
        body: { resident: residentView(r.record), code: codeView(r.code, 'dynamic', app.config.CODE_REFRESH_MARGIN_SECONDS, app.config.ISSUER_ID), token: r.token },
      };
      idempotency.remember(tx, 'apply', key, input, res);
      return res;
    });
    ctx.status = response.status;
    ctx.body = response.body;
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
