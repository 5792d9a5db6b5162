import { z } from 'zod';
import { parseIssuerTokens, type IssuerToken } from '../../anchor/issuer-tokens';

/**
 * Asking other provinces about our codes (FORMAT.md §8). A code carries no stable identifier,
 * so a province that scans one of our residents records it under our issuer id and the code's
 * cti only; to trace that resident we ask it, with the federation token it issued us, for the
 * scans it recorded under the ctis we issued them. This module is both ends' contract: the
 * question (`federationScansSchema`), the answer (`federationAnswerSchema`), the peers setting
 * and the client. It imports nothing of the service, so the configuration can use it.
 */

/** At most this many ctis in one question; a tracing client splits longer lists. */
export const FEDERATION_MAX_CTIS = 500;
/** The widest window one question may span (a tracing window's limit). */
export const FEDERATION_MAX_WINDOW_DAYS = 31;
/** How long a peer has to answer one question. */
export const FEDERATION_TIMEOUT_MS = 10_000;

const REGION = /^[1-9][0-9]{5}$/;
const instant = z.iso.datetime({ offset: true });

/** The body of POST /v1/federation/scans: which of the asker's codes, in which window. */
export const federationScansSchema = z
  .strictObject({
    issuer: z.string().regex(REGION, 'a 6-digit GB/T 2260 region code'),
    ctis: z
      .array(z.string().regex(/^[0-9a-f]{16}$/, 'a cti: 16 lowercase hex characters'))
      .min(1)
      .max(FEDERATION_MAX_CTIS),
    from: instant,
    to: instant,
  })
  .superRefine((b, ctx) => {
    const from = Date.parse(b.from);
    const to = Date.parse(b.to);
    if (to < from) ctx.addIssue({ code: 'custom', path: ['to'], message: 'to must not be before from' });
    else if (to - from > FEDERATION_MAX_WINDOW_DAYS * 86_400_000)
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: `the window may span at most ${FEDERATION_MAX_WINDOW_DAYS} days`,
      });
  });
export type FederationScansQuestion = z.infer<typeof federationScansSchema>;

/** One scan recorded under one of the asker's codes: where, when and what was decided; nothing about the person. */
export const federatedScanSchema = z.strictObject({
  cti: z.string().regex(/^[0-9a-f]{16}$/),
  venue: z.strictObject({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/),
    type: z.string().min(1).max(32),
    district: z.string().regex(/^\d{6}$/),
  }),
  at: instant,
  decision: z.string().min(1).max(32),
  /** The event's sequence number in the answering province's ledger (its proofs name it). */
  seq: z.int().min(1),
});
export type FederatedScan = z.infer<typeof federatedScanSchema>;

export const federationAnswerSchema = z.strictObject({
  /** The answering province. */
  scannedBy: z.string().regex(REGION),
  issuer: z.string().regex(REGION),
  from: instant,
  to: instant,
  scans: z.array(federatedScanSchema).max(100_000),
  /** The answering province's record that it answered (an anchored event). */
  seq: z.int().min(1),
});
export type FederationAnswer = z.infer<typeof federationAnswerSchema>;

/** A province we ask: its region code, the federation token it issued us, and its service's URL (else its status list URL's origin). */
export type FederationPeer = IssuerToken;

/** Parses FEDERATION_PEERS: `320000=<token>@<url>,310000=<token>`, the grammar of WITNESS_FOR. */
export function parseFederationPeers(value: string): FederationPeer[] {
  return parseIssuerTokens(value, 'federation token').map((p) => (p.url ? { ...p, url: p.url.replace(/\/$/, '') } : p));
}

/** Why a peer gave no answer, as the tracing result reports it. */
export class PeerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PeerError';
  }
}

/**
 * Asks one peer for the scans it recorded under `ctis` in [from, to], in questions of at most
 * FEDERATION_MAX_CTIS ctis, one after another. The answer is checked: a scan under a cti we
 * did not ask about is refused with the whole answer.
 * @throws PeerError PEER_UNREACHABLE, PEER_REFUSED (with the peer's error code) or PEER_ANSWER_INVALID
 */
export async function askPeer(
  peer: FederationPeer,
  base: string,
  q: { issuer: string; ctis: string[]; from: string; to: string },
): Promise<FederatedScan[]> {
  const asked = new Set(q.ctis);
  const scans: FederatedScan[] = [];
  for (let i = 0; i < q.ctis.length; i += FEDERATION_MAX_CTIS) {
    const body: FederationScansQuestion = {
      issuer: q.issuer,
      ctis: q.ctis.slice(i, i + FEDERATION_MAX_CTIS),
      from: q.from,
      to: q.to,
    };
    let res: Response;
    try {
      res = await fetch(`${base}/v1/federation/scans`, {
        method: 'POST',
        headers: { authorization: `Bearer ${peer.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(FEDERATION_TIMEOUT_MS),
      });
    } catch (e) {
      throw new PeerError(
        'PEER_UNREACHABLE',
        `${peer.issuer} did not answer: ${(e as Error).name === 'TimeoutError' ? `no answer in ${FEDERATION_TIMEOUT_MS} ms` : (e as Error).message}`,
      );
    }
    const json = (await res.json().catch(() => undefined)) as { error?: { code?: unknown } } | undefined;
    if (!res.ok) {
      const code = typeof json?.error?.code === 'string' ? json.error.code.slice(0, 40) : `HTTP_${res.status}`;
      throw new PeerError('PEER_REFUSED', `${peer.issuer} refused the question: ${res.status} ${code}`);
    }
    const parsed = federationAnswerSchema.safeParse(json);
    if (!parsed.success || parsed.data.scannedBy !== peer.issuer || parsed.data.scans.some((s) => !asked.has(s.cti))) {
      throw new PeerError(
        'PEER_ANSWER_INVALID',
        `${peer.issuer} answered with something that is not an answer to the question`,
      );
    }
    scans.push(...parsed.data.scans);
  }
  return scans;
}
