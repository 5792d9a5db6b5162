import type Router from '@koa/router';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { ServiceError } from '../errors';
import { jsonBody } from '../http/body';
import type { RouteDoc } from '../http/openapi';
import { authorize, requireGrant } from '../http/permissions';
import { BorderService, borderEntrySchema, checkEntry } from '../services/border';
import { Idempotency } from '../services/idempotency';
import { codeView, residentView } from '../services/residents';

/** Codes issued at entry to inbound travellers (入境发码). */
export function borderRoutes(router: Router, app: AppContext, { residents, venues, idempotency }: Services): void {
  const border = new BorderService(app, residents);

  router.post('/v1/border/entries', async (ctx) => {
    requireGrant(ctx, 'border.entry');
    const key = Idempotency.validate(ctx.get('idempotency-key'));
    const input = await jsonBody(ctx, borderEntrySchema, app.config.BODY_LIMIT_BYTES);
    const venue = await venues.get(input.venueId);
    const p = await authorize(ctx, 'border.entry', venue);
    // A border officer's scope holds border posts only; a health authority may name any venue.
    if (venue.type !== 'border') {
      throw new ServiceError('VALIDATION_FAILED', 'codes are issued at entry only by a border venue', [
        { path: 'venueId', code: 'NOT_A_BORDER_VENUE', message: `this venue is a ${venue.type}, not a border post` },
      ]);
    }
    const checked = checkEntry(input, app.clock());
    const scope = `border:${p.id}`;
    const res = await app.ledger.transact(async (tx) => {
      const prior = await idempotency.replay(tx, scope, key, input);
      if (prior) return prior;
      const r = await border.enter(tx, input, checked, venue, p);
      const { CODE_REFRESH_MARGIN_SECONDS: margin, ISSUER_ID: issuer } = app.config;
      const out = {
        status: 201,
        body: {
          resident: residentView(r.record, app.secrets.encryptionKey),
          printedCode: codeView(r.printedCode, 'printed', margin, issuer),
          code: codeView(r.code, 'dynamic', margin, issuer),
          entry: { venue: venue.id, from: input.from, destination: input.destination, arrivedAt: r.arrivedAt },
        },
      };
      idempotency.remember(tx, scope, key, input, out);
      return out;
    });
    ctx.status = res.status;
    ctx.body = res.body;
  });
}

/** The API document's entries for these routes (server/http/openapi.ts). */
export const borderDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/v1/border/entries',
    tag: 'border',
    auth: 'border.entry',
    body: borderEntrySchema,
    idempotent: true,
    errors: ['NOT_FOUND', 'INVALID_ID_NUMBER', 'UNKNOWN_REGION', 'IDENTITY_MISMATCH'],
    summary: 'Code an inbound traveller at entry (入境发码)',
    description:
      'At a border venue: the traveller gets a record with the quarantine rules applied, a printed code and a dynamic one; they reach the record later by signing in with their own account.',
    example: {
      venueId: 'AAAAAAAAAAAAAAAA',
      idType: 'passport',
      idNumber: 'E12345678',
      name: 'SMITH JOHN',
      phone: '+447700900123',
      from: 'GB',
      destination: '340104',
      temperatureC: 36.6,
    },
    ok: { status: 201, description: '`{ resident, printedCode, code, entry }`' },
  },
];
