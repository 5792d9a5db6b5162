import { z } from 'zod';
import {
  decodeCode,
  verifyCode,
  type Backend,
  type ResidentClaims,
  type VenueClaims,
  type TrustListJson,
  type VerifyResult,
} from '../../verifier/src';
import { seqKey, type Tx } from '../../ledger/ledger';
import { ServiceError } from '../errors';
import type { Principal } from '../http/auth';
import type { RawFacts } from '../rules';
import { evaluatePolicy, type PolicyOutcome, type ScanFacts } from '../scenarios/policy';
import type { AppContext } from '../context';
import { residentSubject, type ResidentRecord, type ResidentService } from './residents';
import { codeOwner } from './code-index';
import { shanghaiDay, venueSubject, type VenueRecord, type VenueService } from './venues';
import { getFacts, putFacts } from './facts-store';

const temperature = z
  .number()
  .min(34, 'below 34 °C is not a body temperature')
  .max(43, 'above 43 °C is not a body temperature');

export const staffScanSchema = z
  .strictObject({
    venueId: z.string().regex(/^[A-Za-z0-9_-]{16}$/, 'a venue id'),
    /** The resident's AK1 code as scanned; omit for a pupil showing a paper certificate. */
    code: z.string().min(1).max(2048).optional(),
    temperatureC: temperature.optional(),
    certificateNo: z.string().trim().min(4).max(40).optional(),
  })
  .refine((b) => b.code || b.certificateNo, { message: 'send a code or a certificate number', path: ['code'] });

export const checkinSchema = z.strictObject({
  venueCode: z.string().min(1).max(2048),
  temperatureC: temperature.optional(),
});
export const dailyCheckinSchema = z.strictObject({
  temperatureC: temperature,
  symptoms: z
    .array(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/))
    .max(20)
    .default([]),
});

/**
 * A verifier result, or the service's own refusal of a code of ours: one that names no status
 * index it gave out (STATUS_INDEX_UNKNOWN), or whose cti is not in its code index (CODE_UNKNOWN:
 * never issued, or expired and swept).
 */
export type ScanVerdict = Omit<VerifyResult, 'code'> & {
  code: VerifyResult['code'] | 'STATUS_INDEX_UNKNOWN' | 'CODE_UNKNOWN';
};

export interface ScanOutcome {
  decision: PolicyOutcome['decision'];
  reason: PolicyOutcome['reason'];
  rule: string;
  policyVersion: number;
  colour: ScanFacts['colour'];
  codeResult: string;
  issuer: string | null;
  maskedName: string | null;
  idLast4: string | null;
  venue: { id: string; name: string; type: string };
  seq: number;
  at: string;
  replayed?: boolean;
}

/**
 * Gates verify codes before their transaction, many at once: node:crypto's callback form
 * checks the signatures on libuv's thread pool (another core), not on the event loop.
 */
const VERIFY_BACKEND: Backend = 'node-async';

const band = (t: number | undefined) => (t === undefined ? 'not-taken' : t >= 37.3 ? 'fever' : 'normal');

/** What `verifyShownCode` checks a code against. */
export interface ShownCodeTrust {
  trustList: TrustListJson;
  statusLists: Uint8Array[];
  now: Date;
  /** This service's issuer: its printed codes count without a signed status list (the status book stands in). */
  issuerId: string;
}

/**
 * The part of a scan's code check that needs no service state: signature, expiry, the trust
 * list and other provinces' status lists. Pure, so an HTTP worker runs it beside the writer.
 */
export async function verifyShownCode(text: string, t: ShownCodeTrust): Promise<ScanVerdict> {
  const r = await verifyCode(text, {
    trustList: t.trustList,
    statusLists: t.statusLists,
    now: t.now,
    backend: VERIFY_BACKEND,
  });
  // A printed code needs a status list to count; for our own codes the status book is that list, fresher than any signed copy.
  if (r.code === 'STATUS_STALE' && r.claims?.kind === 'resident' && r.claims.iss === t.issuerId) {
    return {
      valid: true,
      code: 'VALID',
      message: `${r.claims.health.colour} code of issuer ${r.claims.iss}`,
      claims: r.claims,
    };
  }
  return r;
}

/**
 * Everything that happens at a gate. A staff scan (核验) verifies the shown code with the
 * verifier library — signature, expiry, status — against the trust list (this province
 * and, when federated, every province on chain); a self check-in (自助扫码) verifies the
 * venue code and uses the resident's own current code. Either way the venue's admission
 * policy decides, and exactly one scan event (resident and venue chains) is written.
 */
export class ScanService {
  constructor(
    private readonly app: AppContext,
    private readonly venues: VenueService,
    private readonly residents: ResidentService,
  ) {}

  /**
   * Verifies a resident code; own-issuer statuses come from memory, others' from their status
   * lists. One of our codes whose status index no resident holds was never issued by us
   * (every resident holds their index before their first code is handed out), so it is
   * refused with STATUS_INDEX_UNKNOWN.
   */
  async verifyResidentCode(text: string): Promise<ScanVerdict> {
    return this.ownStatus(
      await verifyShownCode(text, {
        trustList: this.app.trust.current(),
        statusLists: this.app.trust.foreignStatusLists(),
        now: this.app.clock(),
        issuerId: this.app.config.ISSUER_ID,
      }),
    );
  }

  /**
   * The second half of `verifyResidentCode`: for one of our own codes that verified, the
   * status book's word on its index. Cheap, so a writer runs it on what an HTTP worker verified.
   */
  ownStatus(r: ScanVerdict): ScanVerdict {
    if (!r.valid || r.claims?.kind !== 'resident' || r.claims.iss !== this.app.config.ISSUER_ID) return r;
    const { statusIndex } = r.claims.health;
    // Entries no resident holds carry cover values in the signed list, never a code.
    if (!this.app.statusBook.isIssued(statusIndex)) {
      const message = `status index ${statusIndex} is not held by any resident of this issuer`;
      return { valid: false, code: 'STATUS_INDEX_UNKNOWN', message, claims: r.claims };
    }
    const colour = ['green', 'yellow', 'red'][this.app.statusBook.get(statusIndex)!];
    // As with a status list: codes are issued in the current colour, so a different status
    // means the colour changed after this code was issued.
    if (colour !== r.claims.health.colour) {
      return {
        valid: false,
        code: 'REVOKED',
        message: `the colour is now ${colour}; this code is superseded`,
        claims: r.claims,
      };
    }
    return r;
  }

  /**
   * Whose own code this is: the code index maps its cti to the resident (a code carries no
   * stable identifier). A code of the format's first revision, issued before the index
   * existed, still names its resident in sub (the verifier accepts sub only before the cut-over).
   */
  private async ownerOf(tx: Tx, claims: ResidentClaims): Promise<string | undefined> {
    return (await codeOwner(tx, claims.cti))?.p ?? claims.sub;
  }

  /** A staff scan at `venue`; the route has authorised the scanner there (venue.scan). */
  async staffScan(
    tx: Tx,
    input: z.infer<typeof staffScanSchema>,
    venue: VenueRecord,
    verdict: ScanVerdict | undefined,
  ): Promise<ScanOutcome> {
    if (verdict?.claims?.kind === 'venue')
      throw new ServiceError('INVALID_CODE', 'this is a venue code; scan the resident code');
    let verified = verdict;
    const claims = verified?.claims as ResidentClaims | undefined;
    const day = shanghaiDay(tx.now);
    let certificate = false;
    let subject: string;
    let certHash: string | undefined;
    let owner: string | undefined;
    const own = claims?.iss === this.app.config.ISSUER_ID;
    if (!input.code) {
      const c = await this.venues.certificateValid(tx, venue.id, input.certificateNo!, day);
      certificate = c.valid;
      certHash = c.hash;
      subject = `c:${venue.id}:${c.hash}`;
    } else if (claims && own) {
      owner = await this.ownerOf(tx, claims);
      if (owner) subject = residentSubject(owner);
      else {
        // Signed with our key, yet not a code we issued (or one long expired): nobody to record it under.
        subject = venueSubject(venue.id);
        if (verified!.valid)
          verified = {
            valid: false,
            code: 'CODE_UNKNOWN',
            message: `code ${claims.cti} is not among the codes this issuer issued (or it expired long ago)`,
            claims,
          };
      }
    } else if (claims) {
      // Another province's code: only its issuer can tell whose it is, from the cti (FORMAT.md §8).
      subject = `f:${claims.iss}:${claims.cti}`;
    } else {
      // A code that did not even decode: the scan still happened and is recorded.
      subject = venueSubject(venue.id);
    }
    const facts: ScanFacts = {
      colour: verified?.valid && claims ? claims.health.colour : 'none',
      codeResult: input.code ? verified!.code : 'NONE',
      codeValid: !!verified?.valid,
      foreign: !!claims && !own,
      printed: claims?.health.mode === 'printed',
      temperatureTaken: input.temperatureC !== undefined,
      temperatureC: input.temperatureC ?? null,
      hasFever: (input.temperatureC ?? 0) >= 37.3,
      checkedInToday: owner ? !!(await tx.get('index', `daily/${owner}/${day}`)) : false,
      certificate,
      method: 'staff',
    };
    return this.record(tx, venue, facts, subject, claims, certHash);
  }

  /** Verifies a venue code the resident scanned; throws CODE_REJECTED unless it is one of this issuer's and valid. */
  async verifyVenueCode(text: string): Promise<VenueClaims> {
    const v = await verifyCode(text, {
      trustList: this.app.trust.current(),
      now: this.app.clock(),
      backend: VERIFY_BACKEND,
    });
    if (!v.valid || v.claims?.kind !== 'venue') {
      throw new ServiceError(
        'CODE_REJECTED',
        v.valid ? 'this is not a venue code' : `the venue code is not valid: ${v.code}`,
        [{ path: 'venueCode', code: v.code, message: v.message }],
      );
    }
    if (v.claims.iss !== this.app.config.ISSUER_ID)
      throw new ServiceError('CODE_REJECTED', `venue codes of ${v.claims.iss} are checked by that province's service`);
    return v.claims;
  }

  /** Self check-in at a venue whose code `verifyVenueCode` accepted. Replays inside the window return the first answer. */
  async selfCheckin(
    tx: Tx,
    input: z.infer<typeof checkinSchema>,
    by: Principal,
    venueCode: VenueClaims,
  ): Promise<ScanOutcome> {
    const venue = await this.venues.get(venueCode.venue.id);
    const p = by.pseudonym!;
    const replayKey = `selfscan/${p}/${venue.id}`;
    const prior = await tx.get<ScanOutcome>('index', replayKey);
    if (prior && tx.now.getTime() - Date.parse(prior.at) < this.app.config.CHECKIN_REPLAY_SECONDS * 1000)
      return { ...prior, replayed: true };
    const rec = await tx.get<ResidentRecord>('residents', p);
    if (!rec) throw new ServiceError('NOT_FOUND', 'no resident for this token');
    const { record, code } = await this.residents.ensureCode(
      tx,
      await this.residents.reevaluate(tx, rec, undefined, 'checkin'),
      'dynamic',
    );
    const day = shanghaiDay(tx.now);
    const facts: ScanFacts = {
      colour: record.colour,
      codeResult: 'VALID',
      codeValid: true,
      foreign: false,
      printed: false,
      temperatureTaken: input.temperatureC !== undefined,
      temperatureC: input.temperatureC ?? null,
      hasFever: (input.temperatureC ?? 0) >= 37.3,
      checkedInToday: !!(await tx.get('index', `daily/${p}/${day}`)),
      certificate: false,
      method: 'self',
    };
    if (venue.requireTemperature && input.temperatureC === undefined) {
      throw new ServiceError('VALIDATION_FAILED', 'this venue asks for a temperature', [
        { path: 'temperatureC', code: 'required', message: 'required at this venue' },
      ]);
    }
    const claims = decodeCode(code.text).claims as ResidentClaims;
    const out = await this.record(tx, venue, facts, residentSubject(p), claims);
    tx.put('index', replayKey, out);
    return out;
  }

  private async record(
    tx: Tx,
    venue: VenueRecord,
    facts: ScanFacts,
    subject: string,
    claims?: ResidentClaims,
    certificate?: string,
  ): Promise<ScanOutcome> {
    const policies = this.app.rules.policies.current;
    const outcome = evaluatePolicy(policies.doc, venue, facts);
    const subjects = subject === venueSubject(venue.id) ? [subject] : [subject, venueSubject(venue.id)];
    const event = await tx.append({
      type: 'scan.recorded',
      subjects,
      data: {
        venue: venue.id,
        venueType: venue.type,
        district: venue.district,
        method: facts.method,
        issuer: claims?.iss ?? null,
        cti: claims?.cti ?? null,
        colour: facts.colour,
        codeResult: facts.codeResult,
        decision: outcome.decision,
        rule: outcome.rule,
        policyVersion: policies.version,
        temperatureBand: band(facts.temperatureC ?? undefined),
        certificate: certificate ?? null,
      },
    });
    const at = tx.now.toISOString();
    const entry = { seq: event.seq, subject, decision: outcome.decision, colour: facts.colour, at };
    tx.put('scans', `v/${venue.id}/${at}/${seqKey(event.seq)}`, entry);
    tx.put('scans', `t/${at}/${seqKey(event.seq)}`, {
      ...entry,
      venue: venue.id,
      venueType: venue.type,
      subtype: venue.subtype,
      district: venue.district,
    });
    tx.onCommit(() =>
      this.app.metrics.inc('ankang_scans_total', 'Scans by venue type and decision', {
        venueType: venue.type,
        decision: outcome.decision,
      }),
    );
    return {
      decision: outcome.decision,
      reason: outcome.reason,
      rule: outcome.rule,
      policyVersion: policies.version,
      colour: facts.colour,
      codeResult: facts.codeResult,
      issuer: claims?.iss ?? null,
      maskedName: claims?.health.maskedName ?? null,
      idLast4: claims?.health.idLast4 ?? null,
      venue: { id: venue.id, name: venue.name, type: venue.type },
      seq: event.seq,
      at,
    };
  }

  /** 每日健康打卡: today's temperature and symptoms, which also update the declaration the rules read. */
  async dailyCheckin(tx: Tx, input: z.infer<typeof dailyCheckinSchema>, by: Principal) {
    const p = by.pseudonym!;
    const rec = await tx.get<ResidentRecord>('residents', p);
    if (!rec) throw new ServiceError('NOT_FOUND', 'no resident for this token');
    const day = shanghaiDay(tx.now);
    const facts = (await getFacts(tx, this.app.secrets.encryptionKey, p)) ?? {};
    const next: RawFacts = {
      ...facts,
      declaration: {
        visited: facts.declaration?.visited ?? [],
        contactWithCase: facts.declaration?.contactWithCase ?? false,
        at: tx.now.toISOString(),
        temperatureC: input.temperatureC,
        symptoms: input.symptoms,
      },
    };
    putFacts(tx, this.app.secrets.encryptionKey, p, next);
    tx.put('index', `daily/${p}/${day}`, {
      at: tx.now.toISOString(),
      temperatureBand: band(input.temperatureC),
      symptoms: input.symptoms.length,
    });
    await tx.append({
      type: 'checkin.daily',
      subjects: [residentSubject(p)],
      data: { day, temperatureBand: band(input.temperatureC), symptoms: input.symptoms.length },
    });
    const after = await this.residents.reevaluate(tx, rec, next, 'daily-checkin');
    return { day, colour: after.colour, reasons: after.reasons };
  }
}
