import type { LedgerEvent } from '../../verifier/src/event';
import type { AppContext } from '../context';
import type { Principal } from '../http/auth';
import type { FederatedScan, FederationAnswer, FederationScansQuestion } from './federation-peers';

/** The subject a scan of another province's code is recorded under: its issuer and cti, nothing else (FORMAT.md §8). */
export const foreignSubject = (issuer: string, cti: string) => `f:${issuer}:${cti}`;

/**
 * Answers another province's tracing (POST /v1/federation/scans): the scans recorded here under
 * the ctis it names, of its own codes (the route has checked its token is that issuer's), in the
 * window. Each is read through its subject chain, so the work grows with the scans of those
 * codes, not with the log. The answer holds where, when and what was decided; this province
 * knows nothing else about the person. The answer itself is recorded (an anchored event naming
 * who asked and how much), so every disclosure can be audited.
 */
export async function answerFederationScans(
  app: AppContext,
  q: FederationScansQuestion,
  by: Principal,
): Promise<FederationAnswer> {
  const { ledger } = app;
  const from = new Date(q.from).toISOString();
  const to = new Date(q.to).toISOString();
  const scans: FederatedScan[] = [];
  for (const cti of new Set(q.ctis)) {
    for (const seq of await ledger.subjectSeqs(foreignSubject(q.issuer, cti))) {
      const e = (await ledger.getEvent(seq)) as LedgerEvent | undefined;
      if (e?.type !== 'scan.recorded' || e.at < from || e.at > to || !e.data) continue;
      const d = e.data as { venue?: unknown; venueType?: unknown; district?: unknown; decision?: unknown };
      scans.push({
        cti,
        venue: { id: String(d.venue), type: String(d.venueType), district: String(d.district) },
        at: e.at,
        decision: String(d.decision),
        seq: e.seq,
      });
    }
  }
  scans.sort((a, b) => a.at.localeCompare(b.at) || a.seq - b.seq);
  const event = await ledger.transact((tx) =>
    tx.append({
      type: 'federation.answered',
      subjects: ['federation'],
      data: { issuer: q.issuer, ctis: q.ctis.length, from, to, scans: scans.length, by: by.id },
    }),
  );
  return { scannedBy: app.config.ISSUER_ID, issuer: q.issuer, from, to, scans, seq: event.seq };
}
