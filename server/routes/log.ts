import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { LedgerEvent } from '../../verifier/src/event';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { ServiceError } from '../errors';
import { authorize } from '../http/permissions';
import type { RouteDoc } from '../http/openapi';

/** At most this many events in one page of GET /v1/log/events. */
export const LOG_PAGE_MAX = 1000;

function seqParam(ctx: Context, name: 'from' | 'to' | 'limit', fallback: number): number {
  const v = ctx.query[name];
  if (v === undefined) return fallback;
  const n = typeof v === 'string' && /^[0-9]{1,15}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ServiceError('VALIDATION_FAILED', `${name} must be a positive integer`, [
      { path: name, code: 'invalid', message: 'a positive integer' },
    ]);
  }
  return n;
}

/**
 * The log's durable events in full, by sequence number, for witnesses (verifier/FORMAT.md
 * §13.3): a witness fetches every event after the last checkpoint it cosigned up to the next
 * one, and checks them before cosigning.
 */
export function logRoutes(router: Router, app: AppContext, { limits }: Services): void {
  router.get('/v1/log/events', limits.limit('log-token'), async (ctx) => {
    await authorize(ctx, 'log.read');
    const head = app.ledger.getHead().seq;
    const from = seqParam(ctx, 'from', 1);
    const to = seqParam(ctx, 'to', Math.max(head, from));
    const limit = Math.min(seqParam(ctx, 'limit', LOG_PAGE_MAX), LOG_PAGE_MAX);
    if (from > to)
      throw new ServiceError('VALIDATION_FAILED', 'from must not be after to', [
        { path: 'from', code: 'too_big', message: 'from ≤ to' },
      ]);
    const end = Math.min(to, head);
    const last = Math.min(end, from + limit - 1);
    const events: LedgerEvent[] = [];
    if (from <= last) for await (const e of app.ledger.events(from, last)) events.push(e);
    ctx.set('Cache-Control', 'no-store');
    // `next`: where the following page starts, while the range asked for goes on past this one.
    ctx.body = { from, to, head, events, next: last < end ? last + 1 : null };
  });
}

/** The API document's entries for these routes (server/http/openapi.ts). */
export const logDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/v1/log/events',
    tag: 'ledger',
    auth: 'log.read',
    limited: true,
    // Documents seqParam above: positive integers, `from` ≤ `to`.
    query: z.strictObject({
      from: z.int().min(1).optional(),
      to: z.int().min(1).optional(),
      limit: z.int().min(1).optional(),
    }),
    summary: "The log's events in full, by sequence number (witnesses)",
    description: `At most ${LOG_PAGE_MAX} events a page; \`next\` is where the following page starts, or null. Not public: the whole log ties every pseudonym to every venue and time.`,
    ok: { status: 200, description: '`{ from, to, head, events, next }`' },
  },
];
