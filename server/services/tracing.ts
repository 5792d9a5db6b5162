import { z } from 'zod';
import type { Colour } from '../../verifier/src';
import type { LedgerEvent } from '../../verifier/src/event';
import { ServiceError } from '../errors';
import type { Principal } from '../http/auth';
import type { Tx } from '../../ledger/ledger';
import type { RawFacts } from '../rules';
import type { AppContext } from '../context';
import { residentSubject, type ResidentRecord, type ResidentService } from './residents';
import type { VenueService } from './venues';
import { getFacts, putFacts, readFacts } from './facts-store';
import { ctisLiveIn } from './code-index';
import { askPeer, PeerError, type FederatedScan, type FederationPeer } from './federation-peers';

const MINUTE = 60_000;
const DAY = 86_400_000;
/** A tracing window longer than this is refused: 14 days of incubation, twice over and some. */
export const MAX_TRACING_WINDOW_DAYS = 31;

export const pseudonymSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{16}$/, 'a resident pseudonym (16 base64url characters)');
const instant = z.iso.datetime({ offset: true });

/** The body of POST /v1/tracing. */
export const tracingSchema = z
  .strictObject({
    pseudonym: pseudonymSchema,
    from: instant,
    to: instant,
    intervalMinutes: z.number().int().min(1).max(240).default(30),
    markCloseContacts: z.boolean().default(false),
  })
  .superRefine((b, ctx) => {
    const from = Date.parse(b.from);
    const to = Date.parse(b.to);
    if (to < from) ctx.addIssue({ code: 'custom', path: ['to'], message: 'to must not be before from' });
    else if (to - from > MAX_TRACING_WINDOW_DAYS * DAY)
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: `the window may span at most ${MAX_TRACING_WINDOW_DAYS} days`,
      });
  });
export type TracingInput = z.infer<typeof tracingSchema>;

/** A value of the `scans` index (`v/<venue>/<time>/<seq>` keys). */
interface ScanEntry {
  seq: number;
  subject: string;
  decision: string;
  colour: string;
  at: string;
}

export interface TracedVisit {
  /** For a visit another province recorded, its name is not known here: the venue id stands in; `district` is given. */
  venue: { id: string; name: string; type: string; district?: string };
  at: string;
  decision: string;
  /** The scan event's sequence number, in the ledger of the province that recorded it (`issuer`). */
  seq: number;
  /** Own residents found around this visit (before de-duplication across visits); 0 for a visit another province recorded. */
  contacts: number;
  /** Whether another province recorded this visit (a scan of the case's code there, resolved through its federation endpoint). */
  foreign: boolean;
  /** The province whose ledger holds the scan. */
  issuer: string;
}

/** How one province asked about the case's codes answered. */
export type PeerOutcome =
  | { issuer: string; ok: true; visits: number }
  | { issuer: string; ok: false; error: { code: string; message: string } };

export interface TracedContact {
  pseudonym: string;
  maskedName: string;
  idLast4: string;
  colour: Colour;
  /** The encounter with the latest exposure, when one person met the case more than once. */
  venue: { id: string; name: string; type: string };
  /** When the contact's code was scanned there. */
  at: string;
  /** When the case's code was scanned there. */
  caseAt: string;
  /** The later of the two scans: the exposure time a close-contact mark records. */
  exposedAt: string;
  minutesApart: number;
  /** Estimated time together, taking each stay to last `intervalMinutes`: interval − minutes apart. */
  overlapMinutes: number;
  /** How many of the case's visits this person overlapped. */
  encounters: number;
}

export interface TracingResult {
  case: { pseudonym: string; maskedName: string; idLast4: string; colour: Colour; caseStatus: string };
  from: string;
  to: string;
  intervalMinutes: number;
  venues: TracedVisit[];
  contacts: TracedContact[];
  /** People present who cannot be marked here: other provinces' codes (counted per code), paper certificates, codes that did not decode. */
  notTraceable: { foreign: number; certificate: number; unidentified: number };
  /** The provinces of FEDERATION_PEERS asked for the scans they recorded under the case's codes (`ctis` of them, live in the window); one that failed is named with why. */
  federation: { ctis: number; peers: PeerOutcome[] };
  marked: boolean;
  seq: number;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * Contact tracing (流调): from a case's own scan events, the venues it visited in a
 * window, and every other own resident scanned at the same venue within ± an interval of
 * each visit. Optionally marks them all as close contacts (密接) in one transaction, which
 * the rule engine turns red.
 *
 * Cost: the case's events are read through its subject chain; each visit reads one range
 * of the venue's scan index (`v/<venue>/<time>`), so the work grows with the scans at the
 * visited venues in ±interval, not with the size of the log.
 */
export class TracingService {
  constructor(
    private readonly app: AppContext,
    private readonly residents: ResidentService,
    private readonly venues: VenueService,
  ) {}

  /** Finds the case's visits and contacts (reads committed data), then records the tracing and any marks. */
  async trace(input: TracingInput, by: Principal): Promise<TracingResult> {
    const { ledger } = this.app;
    const caseRecord = await ledger.read<ResidentRecord>('residents', input.pseudonym);
    if (!caseRecord) throw new ServiceError('NOT_FOUND', 'no resident has this pseudonym');
    const caseFacts = (await readFacts(ledger, this.app.secrets.encryptionKey, input.pseudonym)) ?? {};
    const from = new Date(input.from).toISOString();
    const to = new Date(input.to).toISOString();
    const intervalMs = input.intervalMinutes * MINUTE;
    const caseSubject = residentSubject(input.pseudonym);

    const names = new Map<string, { id: string; name: string; type: string }>();
    const visits: Array<TracedVisit & { venueId: string }> = [];
    const own = this.app.config.ISSUER_ID;
    for (const seq of await ledger.subjectSeqs(caseSubject)) {
      const e = (await ledger.getEvent(seq)) as LedgerEvent;
      if (e.type !== 'scan.recorded' || e.at < from || e.at > to) continue;
      const venueId = String(e.data.venue);
      visits.push({
        venueId,
        venue: await this.venueSummary(venueId, names),
        at: e.at,
        decision: String(e.data.decision),
        seq: e.seq,
        contacts: 0,
        foreign: false,
        issuer: own,
      });
    }
    const federation = await this.askPeers(input.pseudonym, from, to);

    type Found = {
      pseudonym: string;
      visit: (typeof visits)[number];
      at: string;
      exposedAt: string;
      apart: number;
      visits: Set<number>;
    };
    const found = new Map<string, Found>();
    const foreign = new Set<string>();
    const certificate = new Set<string>();
    const unidentified = new Set<number>();
    for (const visit of visits) {
      const t = Date.parse(visit.at);
      const lo = new Date(t - intervalMs).toISOString();
      const hi = new Date(t + intervalMs).toISOString();
      const prefix = `v/${visit.venueId}/`;
      const here = new Set<string>();
      // Keys are `v/<venue>/<ISO time>/<seq>`; '~' sorts after every seq, so `hi` is inclusive.
      for await (const value of ledger.space('scans').values({ gte: prefix + lo, lte: `${prefix}${hi}/~` })) {
        const s = value as ScanEntry;
        if (s.subject === caseSubject) continue;
        if (s.subject.startsWith('f:')) foreign.add(s.subject);
        else if (s.subject.startsWith('c:')) certificate.add(s.subject);
        else if (!s.subject.startsWith('r:')) unidentified.add(s.seq);
        else {
          const p = s.subject.slice(2);
          here.add(p);
          const exposedAt = s.at > visit.at ? s.at : visit.at;
          const apart = Math.abs(Date.parse(s.at) - t);
          const prior = found.get(p);
          const seen = prior?.visits ?? new Set<number>();
          seen.add(visit.seq);
          // The latest exposure is the one a close-contact window runs from.
          if (!prior || exposedAt > prior.exposedAt || (exposedAt === prior.exposedAt && apart < prior.apart)) {
            found.set(p, { pseudonym: p, visit, at: s.at, exposedAt, apart, visits: seen });
          }
        }
      }
      visit.contacts = here.size;
    }

    const contacts: Array<Found & { record: ResidentRecord }> = [];
    for (const f of found.values()) {
      const record = await ledger.read<ResidentRecord>('residents', f.pseudonym);
      if (record) contacts.push({ ...f, record });
    }
    contacts.sort((a, b) => a.exposedAt.localeCompare(b.exposedAt) || a.pseudonym.localeCompare(b.pseudonym));

    return ledger.transact(async (tx) => {
      const event = await tx.append({
        type: 'tracing.completed',
        subjects: ['tracing'],
        data: {
          case: input.pseudonym,
          from,
          to,
          intervalMinutes: input.intervalMinutes,
          venues: visits.length,
          foreignVisits: federation.visits.length,
          peersFailed: federation.peers.filter((p) => !p.ok).map((p) => p.issuer),
          contacts: contacts.length,
          marked: input.markCloseContacts,
          by: by.id,
        },
      });
      const colours = new Map<string, Colour>();
      if (input.markCloseContacts) {
        for (const c of contacts)
          colours.set(c.pseudonym, await this.markCloseContact(tx, c.pseudonym, c.exposedAt, `tracing#${event.seq}`));
      }
      const result: TracingResult = {
        case: {
          pseudonym: caseRecord.pseudonym,
          maskedName: caseRecord.maskedName,
          idLast4: caseRecord.idLast4,
          colour: caseRecord.colour,
          caseStatus: caseFacts.case?.status ?? 'none',
        },
        from,
        to,
        intervalMinutes: input.intervalMinutes,
        venues: [...visits.map(({ venueId: _id, ...v }) => v), ...federation.visits].sort((a, b) =>
          a.at.localeCompare(b.at),
        ),
        contacts: contacts.map((c) => ({
          pseudonym: c.pseudonym,
          maskedName: c.record.maskedName,
          idLast4: c.record.idLast4,
          colour: colours.get(c.pseudonym) ?? c.record.colour,
          venue: c.visit.venue,
          at: c.at,
          caseAt: c.visit.at,
          exposedAt: c.exposedAt,
          minutesApart: round1(c.apart / MINUTE),
          overlapMinutes: round1(input.intervalMinutes - c.apart / MINUTE),
          encounters: c.visits.size,
        })),
        notTraceable: { foreign: foreign.size, certificate: certificate.size, unidentified: unidentified.size },
        federation: { ctis: federation.ctis, peers: federation.peers },
        marked: input.markCloseContacts,
        seq: event.seq,
      };
      return result;
    });
  }

  /**
   * Asks every province of FEDERATION_PEERS, at once, for the scans it recorded under the case's
   * codes live in the window (the code index keeps each resident's ctis for 31 days past their
   * expiry). A province that fails is reported, never fatal: the tracing goes on with the rest.
   */
  private async askPeers(
    pseudonym: string,
    from: string,
    to: string,
  ): Promise<{ ctis: number; visits: TracedVisit[]; peers: PeerOutcome[] }> {
    const peers = this.app.config.FEDERATION_PEERS;
    if (!peers.length) return { ctis: 0, visits: [], peers: [] };
    const ctis = (await ctisLiveIn(this.app.ledger, pseudonym, new Date(from), new Date(to))).map((c) => c.cti);
    if (!ctis.length)
      return { ctis: 0, visits: [], peers: peers.map((p) => ({ issuer: p.issuer, ok: true, visits: 0 })) };
    const question = { issuer: this.app.config.ISSUER_ID, ctis, from, to };
    const answers = await Promise.all(
      peers.map(async (peer): Promise<{ outcome: PeerOutcome; scans: FederatedScan[] }> => {
        try {
          const scans = await askPeer(peer, this.peerBase(peer), question);
          return { outcome: { issuer: peer.issuer, ok: true, visits: scans.length }, scans };
        } catch (e) {
          const error =
            e instanceof PeerError
              ? { code: e.code, message: e.message }
              : { code: 'PEER_FAILED', message: `${peer.issuer}: the question could not be asked` };
          this.app.log.warn('tracing: a federation peer gave no answer', { peer: peer.issuer, code: error.code });
          return { outcome: { issuer: peer.issuer, ok: false, error }, scans: [] };
        }
      }),
    );
    const visits = answers.flatMap((a) =>
      a.scans.map((s) => ({
        venue: { id: s.venue.id, name: s.venue.id, type: s.venue.type, district: s.venue.district },
        at: s.at,
        decision: s.decision,
        seq: s.seq,
        contacts: 0,
        foreign: true,
        issuer: a.outcome.issuer,
      })),
    );
    return { ctis: ctis.length, visits, peers: answers.map((a) => a.outcome) };
  }

  /** Where a peer's service answers: FEDERATION_PEERS' URL, else its status list URL's origin from the trust list. */
  private peerBase(peer: FederationPeer): string {
    if (peer.url) return peer.url;
    const issuers =
      (this.app.trust.current() as { issuers?: Array<{ id: string; statusListUrl?: string }> }).issuers ?? [];
    const url = issuers.find((i) => i.id === peer.issuer)?.statusListUrl;
    const m = url ? /^(https?:\/\/.+)\/v1\/status-list$/.exec(url) : null;
    if (!m)
      throw new PeerError(
        'PEER_URL_UNKNOWN',
        `no service URL for ${peer.issuer}: give it in FEDERATION_PEERS (${peer.issuer}=<token>@<url>)`,
      );
    return m[1];
  }

  /**
   * Records a close contact (degree 1) with the same precedence as the close-contacts feed:
   * degree 1 is never downgraded, and a later exposure restarts the window. Returns the new colour.
   */
  private async markCloseContact(tx: Tx, pseudonym: string, exposedAt: string, cause: string): Promise<Colour> {
    const record = await tx.get<ResidentRecord>('residents', pseudonym);
    if (!record) throw new ServiceError('NOT_FOUND', 'a contact disappeared during tracing');
    const facts: RawFacts = { ...((await getFacts(tx, this.app.secrets.encryptionKey, pseudonym)) ?? {}) };
    const prev = facts.contact;
    if (!prev || prev.degree > 1 || Date.parse(exposedAt) > Date.parse(prev.exposedAt))
      facts.contact = { degree: 1, exposedAt };
    putFacts(tx, this.app.secrets.encryptionKey, pseudonym, facts);
    return (await this.residents.reevaluate(tx, record, facts, cause)).colour;
  }

  private async venueSummary(id: string, cache: Map<string, { id: string; name: string; type: string }>) {
    let v = cache.get(id);
    if (!v) {
      const rec = await this.venues.get(id).catch(() => undefined);
      v = { id, name: rec?.name ?? id, type: rec?.type ?? 'unknown' };
      cache.set(id, v);
    }
    return v;
  }
}
