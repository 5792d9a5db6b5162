import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { isErased, type ErasedEvent, type LedgerEvent } from '../../verifier/src/event';
import { PROOF_BUNDLE_FORMAT, PROOF_BUNDLE_FORMAT_1 } from '../../verifier/src/proof-bundle';
import type { Anchorer, CheckpointRecord } from '../../anchor/anchorer';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { ServiceError } from '../errors';
import { deskSubject, getDesk } from '../services/desks';
import { authorize } from '../http/permissions';
import type { RouteDoc } from '../http/openapi';

function anchored(app: AppContext): { anchorer: Anchorer; checkpoint: CheckpointRecord } {
  if (!app.anchorer) throw new ServiceError('ANCHORING_OFF', 'this service runs without a chain (set CHAIN_RPC_URL)');
  const checkpoint = app.anchorer.checkpoint;
  if (!checkpoint)
    throw new ServiceError('NOT_ANCHORED_YET', 'nothing has been anchored yet; retry after the next checkpoint');
  return { anchorer: app.anchorer, checkpoint };
}

/**
 * The checkpoint's subject map root, when the map has it committed at that size (format 2);
 * a checkpoint anchored before the map was kept, and not rebuilt since, gets format 1.
 */
function mapRootOf(anchorer: Anchorer, cp: CheckpointRecord): string | undefined {
  return cp.mapRoot !== undefined && anchorer.map.mapRootAt(cp.treeSize)?.toString('hex') === cp.mapRoot
    ? cp.mapRoot
    : undefined;
}

function bundleHead(app: AppContext, cp: CheckpointRecord, mapRoot: string | undefined) {
  return {
    format: mapRoot ? PROOF_BUNDLE_FORMAT : PROOF_BUNDLE_FORMAT_1,
    issuer: app.config.ISSUER_ID,
    chain: { chainId: cp.chainId, contract: cp.contract },
    checkpoint: {
      index: cp.index,
      treeSize: cp.treeSize,
      root: cp.root,
      ...(mapRoot ? { mapRoot } : {}),
      txHash: cp.txHash,
      blockNumber: cp.blockNumber,
    },
  };
}

async function entry(anchorer: Anchorer, event: LedgerEvent | ErasedEvent, treeSize: number) {
  const proof = await anchorer.tree.inclusionProof(event.seq - 1, treeSize);
  return { event, leafIndex: event.seq - 1, proof: proof.map((h) => h.toString('hex')) };
}

function timeParam(ctx: Context, name: 'from' | 'to', fallback: number): number {
  const v = ctx.query[name];
  if (v === undefined) return fallback;
  const t = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t))
    throw new ServiceError('VALIDATION_FAILED', `${name} must be an RFC 3339 time`, [
      { path: name, code: 'invalid_date', message: 'RFC 3339' },
    ]);
  return t;
}

/**
 * The subject's latest erased event among its first `treeSize` events, if retention erased
 * any: the hash a kept event links to that is not the kept event before it, or the subject's
 * head in the map when that is not its last kept event. Its seq comes from the `erased/<hash>`
 * index the retention job keeps.
 */
async function latestErased(
  app: AppContext,
  anchorer: Anchorer,
  subject: string,
  kept: LedgerEvent[],
  treeSize: number,
  mapped: boolean,
): Promise<ErasedEvent | undefined> {
  const lookup = async (hash: string) => {
    const seq = await app.ledger.read<number>('index', `erased/${hash}`);
    const e = seq === undefined ? undefined : await app.ledger.getEvent(seq);
    return e && isErased(e as LedgerEvent | ErasedEvent) ? (e as unknown as ErasedEvent) : undefined;
  };
  const head = mapped ? anchorer.map.proof(subject, treeSize).head : undefined;
  const last = kept[kept.length - 1];
  if (head && head !== (last?.hash ?? null)) {
    const e = await lookup(head);
    if (e) return e;
  }
  for (let i = kept.length - 1; i >= 0; i--) {
    const link = kept[i].links[subject];
    if (link !== null && link !== (kept[i - 1]?.hash ?? null)) return lookup(link);
  }
  return undefined;
}

/**
 * A subject's events in [from, to] with inclusion proofs, plus the subject's events just
 * before and after the range, so the per-subject hash chain shows nothing was left out, and
 * the subject's head in the checkpoint's subject map, so the open end is closed too.
 *
 * Retention shreds the subject links of erased events, so a history can only be shown
 * complete after the subject's latest erased event (FORMAT.md §10.1): the range then starts
 * just after it, its stub is `previous`, and a range wholly before it is answered ERASED.
 */
export async function historyBundle(app: AppContext, ctx: Context, subject: string) {
  const { anchorer, checkpoint } = anchored(app);
  const from = timeParam(ctx, 'from', 0);
  const to = timeParam(ctx, 'to', app.clock().getTime());
  if (from > to)
    throw new ServiceError('VALIDATION_FAILED', 'from must not be after to', [
      { path: 'from', code: 'too_big', message: 'from ≤ to' },
    ]);
  const seqs = await app.ledger.subjectSeqs(subject, 1, checkpoint.treeSize);
  const mapRoot = mapRootOf(anchorer, checkpoint);
  const kept: LedgerEvent[] = [];
  for (const seq of seqs) kept.push((await app.ledger.getEvent(seq))!);
  const erased = await latestErased(app, anchorer, subject, kept, checkpoint.treeSize, !!mapRoot);
  let start = from;
  if (erased) {
    start = Math.max(from, Date.parse(erased.at) + 1);
    if (start > to) {
      throw new ServiceError(
        'ERASED',
        `${subject}'s events up to ${erased.at} were erased by retention (event ${erased.erased.by}); ask for a range after it`,
        [{ path: 'to', code: 'erased', message: `after ${erased.at}` }],
      );
    }
  }
  let previous: LedgerEvent | ErasedEvent | undefined = erased;
  let next: LedgerEvent | undefined;
  const inRange: LedgerEvent[] = [];
  for (const e of kept) {
    if (erased && e.seq < erased.seq) continue;
    const t = Date.parse(e.at);
    if (t < start) previous = e;
    else if (t <= to) inRange.push(e);
    else {
      next = e;
      break;
    }
  }
  if (inRange.length > 10_000)
    throw new ServiceError('VALIDATION_FAILED', 'more than 10,000 events in range; narrow it', [
      { path: 'to', code: 'too_big', message: 'narrow the range' },
    ]);
  return {
    ...bundleHead(app, checkpoint, mapRoot),
    kind: 'history',
    subject,
    range: { from: new Date(start).toISOString(), to: new Date(to).toISOString() },
    previous: previous ? await entry(anchorer, previous, checkpoint.treeSize) : null,
    next: next ? await entry(anchorer, next, checkpoint.treeSize) : null,
    events: await Promise.all(inRange.map((e) => entry(anchorer, e, checkpoint.treeSize))),
    ...(mapRoot ? { subjectHead: anchorer.map.proof(subject, checkpoint.treeSize) } : {}),
  };
}

export function proofRoutes(router: Router, app: AppContext, { venues }: Services): void {
  router.get('/v1/anchor/status', (ctx) => {
    ctx.body = app.anchorer ? app.anchorer.status() : { state: 'off' };
  });

  router.get('/v1/proofs/events/:seq', async (ctx) => {
    await authorize(ctx, 'proofs.read');
    const seq = Number(ctx.params.seq);
    if (!Number.isSafeInteger(seq) || seq < 1)
      throw new ServiceError('VALIDATION_FAILED', 'seq must be a positive integer', [
        { path: 'seq', code: 'invalid', message: 'a positive integer' },
      ]);
    const { anchorer, checkpoint } = anchored(app);
    const head = app.ledger.getHead().seq;
    // "Retry after the next checkpoint" would never succeed for an event that does not exist.
    if (seq > head) throw new ServiceError('NOT_FOUND', `there is no event ${seq}: the ledger holds ${head} events`);
    if (seq > checkpoint.treeSize) {
      throw new ServiceError(
        'NOT_ANCHORED_YET',
        `event ${seq} is after the latest checkpoint (${checkpoint.treeSize} events); retry after the next one`,
      );
    }
    const event = (await app.ledger.getEvent(seq))! as LedgerEvent | ErasedEvent;
    if (isErased(event)) {
      // Its body and salt are gone: nothing of it can be proven but its hash, which every checkpoint still covers.
      ctx.status = 410;
      ctx.body = {
        error: {
          code: 'ERASED',
          message: `event ${seq} was erased by retention (event ${event.erased.by}); its hash stays a leaf of the log, and the erasure event's own proof shows when and why`,
          erasure: { seq: event.erased.by },
        },
      };
      return;
    }
    ctx.body = {
      ...bundleHead(app, checkpoint, mapRootOf(anchorer, checkpoint)),
      kind: 'event',
      events: [await entry(anchorer, event, checkpoint.treeSize)],
    };
  });

  router.get('/v1/proofs/subjects/:pseudonym', async (ctx) => {
    await authorize(ctx, 'proofs.read');
    const p = ctx.params.pseudonym;
    if (!/^[A-Za-z0-9_-]{16}$/.test(p))
      throw new ServiceError('VALIDATION_FAILED', 'not a pseudonym', [
        { path: 'pseudonym', code: 'invalid', message: '16 base64url characters' },
      ]);
    ctx.body = await historyBundle(app, ctx, `r:${p}`);
  });

  router.get('/v1/proofs/venues/:id', async (ctx) => {
    await authorize(ctx, 'proofs.read');
    const venue = await venues.get(ctx.params.id);
    ctx.body = await historyBundle(app, ctx, `v:${venue.id}`);
  });

  router.get('/v1/proofs/desks/:id', async (ctx) => {
    await authorize(ctx, 'proofs.read');
    const desk = await getDesk({ get: (space, key) => app.ledger.read(space, key) }, ctx.params.id);
    ctx.body = await historyBundle(app, ctx, deskSubject(desk.id));
  });

  // Sealing a subject closes the open end of its history: the seal is an event of the
  // subject, so it links to the subject's latest event, and a history up to any time before
  // it names the seal (or a later real event) as `next` once a checkpoint covers it.
  const seal = async (ctx: Context, subject: string, by: string) => {
    anchored(app);
    const event = await app.ledger.transact((tx) =>
      tx.append({ type: 'audit.sealed', subjects: [subject], data: { by } }),
    );
    ctx.status = 201;
    ctx.body = { subject, seq: event.seq, at: event.at, hash: event.hash };
  };

  router.post('/v1/proofs/subjects/:pseudonym/seal', async (ctx) => {
    const auditor = await authorize(ctx, 'proofs.seal');
    const p = ctx.params.pseudonym;
    if (!/^[A-Za-z0-9_-]{16}$/.test(p))
      throw new ServiceError('VALIDATION_FAILED', 'not a pseudonym', [
        { path: 'pseudonym', code: 'invalid', message: '16 base64url characters' },
      ]);
    if (!(await app.ledger.read('residents', p))) throw new ServiceError('NOT_FOUND', 'no resident has this pseudonym');
    await seal(ctx, `r:${p}`, auditor.id);
  });

  router.post('/v1/proofs/venues/:id/seal', async (ctx) => {
    const auditor = await authorize(ctx, 'proofs.seal');
    const venue = await venues.get(ctx.params.id);
    await seal(ctx, `v:${venue.id}`, auditor.id);
  });
}

/** The API document's entries for these routes (server/http/openapi.ts). */
// The parameters below document the checks in the handlers (timeParam, the pseudonym and seq tests).
const range = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
});
const pseudonym = z.strictObject({ pseudonym: z.string().regex(/^[A-Za-z0-9_-]{16}$/) });
const sealed = z.object({ subject: z.string(), seq: z.int().min(1), at: z.iso.datetime(), hash: z.string() });
const anchoring: RouteDoc['errors'] = ['ANCHORING_OFF', 'NOT_ANCHORED_YET', 'NOT_FOUND', 'ERASED'];
const bundle = 'A proof bundle (verifier/FORMAT.md; check it with `ankang-verify proof`)';

export const proofDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/v1/anchor/status',
    tag: 'ledger',
    auth: 'none',
    summary: "The anchorer's state: last checkpoint, chain, pending events",
    ok: { status: 200, description: '`{ state, ... }`' },
  },
  {
    method: 'get',
    path: '/v1/proofs/events/:seq',
    tag: 'proofs',
    auth: 'proofs.read',
    params: z.strictObject({ seq: z.int().min(1) }),
    errors: anchoring,
    summary: 'One event with its inclusion proof in the latest checkpoint',
    ok: { status: 200, description: bundle },
  },
  {
    method: 'get',
    path: '/v1/proofs/subjects/:pseudonym',
    tag: 'proofs',
    auth: 'proofs.read',
    params: pseudonym,
    query: range,
    errors: anchoring,
    summary: "A resident's events in [from, to], provably complete",
    ok: { status: 200, description: bundle },
  },
  {
    method: 'get',
    path: '/v1/proofs/venues/:id',
    tag: 'proofs',
    auth: 'proofs.read',
    query: range,
    errors: anchoring,
    summary: "A venue's events in [from, to], provably complete",
    ok: { status: 200, description: bundle },
  },
  {
    method: 'get',
    path: '/v1/proofs/desks/:id',
    tag: 'proofs',
    auth: 'proofs.read',
    query: range,
    errors: anchoring,
    summary: "A service desk's events (its registration and look-ups) in [from, to], provably complete",
    ok: { status: 200, description: bundle },
  },
  {
    method: 'post',
    path: '/v1/proofs/subjects/:pseudonym/seal',
    tag: 'proofs',
    auth: 'proofs.seal',
    params: pseudonym,
    errors: ['ANCHORING_OFF', 'NOT_FOUND'],
    summary: "Seal a resident's history",
    description:
      'Appends an `audit.sealed` event, which closes the open end of the history once a checkpoint covers it.',
    ok: { status: 201, description: 'The seal event', schema: sealed },
  },
  {
    method: 'post',
    path: '/v1/proofs/venues/:id/seal',
    tag: 'proofs',
    auth: 'proofs.seal',
    errors: ['ANCHORING_OFF', 'NOT_FOUND'],
    summary: "Seal a venue's history",
    ok: { status: 201, description: 'The seal event', schema: sealed },
  },
];
