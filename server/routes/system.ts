import { resolve } from 'node:path';
import type Router from '@koa/router';
import type { Services } from '../app';
import type { Config } from '../config';
import type { AppContext } from '../context';
import { registerServiceMetrics } from '../http/service-metrics';
import { inNetworks } from '../http/address';
import { ServiceError } from '../errors';

/** What an operator runs on a ledger that refuses writes as diverged (scripts/ledger-verify.ts). */
export const verifyCommand = (config: Pick<Config, 'DATA_DIR'>) =>
  `npm run ledger:verify -- --data-dir ${resolve(config.DATA_DIR)}`;

interface Check {
  ok: boolean;
  reason?: string;
  [detail: string]: unknown;
}

/**
 * What /readyz checks: the ledger takes writes, the anchorer has not found the chain
 * disagreeing with the ledger, and the chain is reachable or no event has waited longer
 * than READY_MAX_ANCHOR_LAG_SECONDS to be anchored. Reasons name causes, never paths or
 * personal data; the one path shown is the command an operator runs on a diverged ledger.
 */
export async function checkReadiness(app: AppContext): Promise<{ ready: boolean; checks: Record<string, Check> }> {
  const checks: Record<string, Check> = {};
  if (app.stopping) checks.service = { ok: false, reason: 'stopping: finishing the requests in flight' };
  const ledger = app.ledger.health();
  const head = app.ledger.getHead().seq;
  checks.ledger = {
    ok: ledger.ok,
    state: ledger.state,
    head,
    writeFailures: ledger.writeFailures,
    ...(ledger.reason ? { reason: ledger.reason } : {}),
    ...(ledger.since ? { since: ledger.since } : {}),
    ...(ledger.state === 'diverged' ? { action: `stop the service and run: ${verifyCommand(app.config)}` } : {}),
  };
  const anchorer = app.anchorer;
  if (anchorer) {
    const { state, lastError } = anchorer;
    const anchored = anchorer.checkpoint?.treeSize ?? 0;
    checks.anchor = {
      ok: state !== 'diverged',
      state,
      treeSize: anchorer.tree.treeSize,
      anchoredSize: anchored,
      ...(state === 'diverged' ? { reason: `the chain disagrees with the ledger: ${lastError}` } : {}),
    };
    // The oldest event no checkpoint covers yet (checkpoint records themselves wait for the next one).
    const { oldest } = await anchorer.unanchored();
    const lagSeconds = oldest ? Math.max(0, Math.floor((app.clock().getTime() - Date.parse(oldest.at)) / 1000)) : 0;
    const max = app.config.READY_MAX_ANCHOR_LAG_SECONDS;
    const reachable = state === 'up';
    checks.chain = {
      ok: reachable || lagSeconds <= max,
      state,
      unanchoredEvents: Math.max(0, head - anchored),
      lagSeconds,
      maxLagSeconds: max,
      ...(reachable ? {} : { lastError: lastError ?? null }),
      ...(!reachable && lagSeconds > max
        ? {
            reason: `the chain is ${state} and event ${oldest!.seq} has waited ${lagSeconds} s to be anchored (limit ${max} s)`,
          }
        : {}),
    };
  }
  return { ready: Object.values(checks).every((c) => c.ok), checks };
}

export function systemRoutes(router: Router, app: AppContext, _services: Services): void {
  registerServiceMetrics(app);

  // Liveness: 200 whenever the process answers. Readiness is /readyz. Neither is under the
  // per-address limits: a load balancer probes them often from a few addresses, and both are
  // cheap (no writes; /readyz reads at most a few events).
  router.get('/healthz', (ctx) => {
    ctx.body = { ok: true, issuer: app.config.ISSUER_ID, ledger: app.ledger.getHead() };
  });
  router.get('/readyz', async (ctx) => {
    const r = await checkReadiness(app);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = r.ready ? 200 : 503;
    ctx.body = r;
  });
  // Operational figures for the province's monitoring, and a render that costs CPU: not for everyone.
  router.get('/metrics', async (ctx) => {
    if (!inNetworks(ctx.ip, app.config.METRICS_ALLOW))
      throw new ServiceError('FORBIDDEN', 'metrics are served only to the addresses in METRICS_ALLOW');
    const text = await app.metrics.render();
    ctx.type = app.metrics.contentType;
    ctx.body = text;
  });
  router.get('/v1/ledger/head', (ctx) => {
    ctx.body = app.ledger.getHead();
  });
}
