import { z } from 'zod';
import { decodeCode, type ResidentClaims } from '../../verifier/src';
import { openField } from '../crypto/pii';
import { PURPOSES, type DeskKind, type LookupOutcome, type LookupRefusal, type Purpose } from '../domain/services';
import { ERROR_STATUS } from '../errors';
import { seqKey, type Ledger, type Tx } from '../../ledger/ledger';
import { evaluatePolicy, type Decision, type ScanFacts } from '../scenarios/policy';
import type { AppContext } from '../context';
import { codeOwner, codeUsed, markCodeUsed } from './code-index';
import { deskSubject, type DeskRecord } from './desks';
import { FARE_REQUEST_TTL_SECONDS, fareRequestId, signFareRequest } from './fare';
import { entitlementFor } from './links';
import { residentSubject, spendShownCode, type ResidentRecord } from './residents';
import type { ScanVerdict } from './scans';
import { shanghaiDay } from './venues';

/**
 * Look-ups (亮码办事, 一码通办): a registered desk shows a resident's fresh code and asks for
 * one purpose; it gets only what that purpose entitles, and only when the code is this
 * issuer's, live, shown for the first time, admitted by the venue's policy and not paused by
 * the resident. Whatever the outcome, the look-up is one `service.looked-up` event on the
 * resident's chain (when the code names one) and the desk's, with no personal data.
 *
 * Keys it writes:
 * - `codes` `u/<cti>`: the code was used for a look-up (a second look-up with it is
 *   CODE_REPLAYED), swept with the code index (server/services/code-index.ts);
 * - `desks` `l/<desk>/<at>/<seq>`: the desk's look-ups; `r/<pseudonym>/<at>/<seq>`: the
 *   resident's ("who used my code"). Retention erases both with the event.
 */

/** The body of POST /v1/services/resolve. */
export const resolveSchema = z
  .strictObject({
    /** The resident's AK1 code as scanned at the desk. */
    code: z.string().min(1).max(2048),
    purpose: z.enum(PURPOSES),
    /** The fare in fen (分); fare look-ups only. */
    amount: z.int().min(1).max(100_000).optional(),
  })
  .superRefine((b, ctx) => {
    if (b.purpose === 'fare' && b.amount === undefined) {
      ctx.addIssue({ code: 'custom', path: ['amount'], message: 'a fare look-up names the amount in fen' });
    }
    if (b.purpose !== 'fare' && b.amount !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['amount'], message: 'only a fare look-up takes an amount' });
    }
  });
export type ResolveInput = z.infer<typeof resolveSchema>;

/** What a purpose returns: one card reference, the identity (亮码办事), or a payment token with its signed fare request. */
export type LookupResult =
  | { healthCard: string }
  | { insuranceVoucher: string }
  | { socialSecurityCard: string }
  | { name: string; idType: string; idNumber: string }
  | { provider: string; token: string; fareRequest: string };

/** A look-up as its event recorded it, plus (only when resolved) what the desk is entitled to. */
export interface LookupOutcomeRecord {
  outcome: LookupOutcome;
  purpose: Purpose;
  decision: Decision | null;
  colour: ResidentClaims['health']['colour'] | null;
  maskedName: string | null;
  seq: number;
  at: string;
  /** Resolved look-ups only; a fare's request is signed after the commit (it names `seq`). */
  entitlement?: LookupResult | { provider: string; token: string };
}

/** A desk's look-up as its own list shows it (no personal data). */
export interface DeskLookupEntry {
  seq: number;
  at: string;
  purpose: Purpose;
  outcome: LookupOutcome;
  decision: Decision | null;
}

/** A look-up as the resident's "who used my code" list shows it. */
export interface ResidentLookupEntry {
  seq: number;
  at: string;
  desk: { id: string; name: string; kind: DeskKind };
  venue: { name: string };
  purpose: Purpose;
  outcome: LookupOutcome;
}

const REFUSAL_MESSAGES: Record<LookupRefusal, string> = {
  CODE_PRINTED: 'a printed code cannot be looked up: the person shows their live code on the phone',
  CODE_EXPIRED: 'the code has expired: the person shows a fresh one',
  CODE_FOREIGN: "another province's code: only its issuer holds this person's cards",
  CODE_REPLAYED: 'this code was already used for a look-up: the person shows a fresh one',
  CODE_NOT_VALID: 'not a valid resident code of this issuer',
  PURPOSE_NOT_ALLOWED: 'this desk was not registered for that purpose',
  CONSENT_PAUSED: 'the resident has paused this purpose',
  CARD_NOT_LINKED: 'the resident has no card linked for this purpose',
  ADMISSION_DENIED: "the venue's admission policy refuses this code here",
};

/** The status and body of a refused look-up: the refusal's error, and the look-up that recorded it. */
export function refusalAnswer(o: LookupOutcomeRecord): { status: number; body: unknown } {
  const code = o.outcome as LookupRefusal;
  return {
    status: ERROR_STATUS[code],
    body: {
      error: { code, message: REFUSAL_MESSAGES[code] },
      lookup: { seq: o.seq, at: o.at, outcome: o.outcome, purpose: o.purpose },
    },
  };
}

const deskKey = (desk: string, at: string, seq: number) => `l/${desk}/${at}/${seqKey(seq)}`;
const residentKey = (pseudonym: string, at: string, seq: number) => `r/${pseudonym}/${at}/${seqKey(seq)}`;

/** The index keys a look-up event left, for retention to erase with it. */
export function lookupIndexKeys(e: {
  seq: number;
  at: string;
  subjects: string[];
  data: Record<string, unknown>;
}): string[] {
  const keys = [deskKey(e.data.desk as string, e.at, e.seq)];
  const resident = e.subjects.find((s) => s.startsWith('r:'));
  if (resident) keys.push(residentKey(resident.slice(2), e.at, e.seq));
  return keys;
}

/** Reads a list of look-up entries under `prefix`, newest first. */
async function newestFirst<T>(ledger: Ledger, prefix: string, limit: number): Promise<T[]> {
  const out: T[] = [];
  for await (const [, v] of ledger.space('desks').iterator({ gt: prefix, lt: `${prefix}~`, reverse: true, limit }))
    out.push(v as T);
  return out;
}

/** A desk's look-ups, newest first. */
export const deskLookups = (ledger: Ledger, desk: string, limit: number) =>
  newestFirst<DeskLookupEntry>(ledger, `l/${desk}/`, limit);

/** A resident's look-ups ("who used my code"), newest first. */
export const residentLookups = (ledger: Ledger, pseudonym: string, limit: number) =>
  newestFirst<ResidentLookupEntry>(ledger, `r/${pseudonym}/`, limit);

/**
 * Everything that happens when a desk looks a code up. The route has authorised the desk
 * token (services.resolve) and verified the code (ScanService.verifyResidentCode) before the
 * transaction, so the ledger's writer never waits on a signature check.
 */
export class LookupService {
  constructor(private readonly app: AppContext) {}

  /**
   * Decides the look-up (api-17.md, step 2), in order: a code that does not decode, another
   * province's, a printed one, an expired one, any other invalid one; then a code used before;
   * then the desk's purposes, the venue's admission policy, the resident's consent and card.
   * Writes exactly one event and its index entries; from the replay check on, the code is
   * consumed whatever the outcome.
   */
  async resolve(tx: Tx, desk: DeskRecord, input: ResolveInput, verdict: ScanVerdict): Promise<LookupOutcomeRecord> {
    const { config } = this.app;
    let decoded: ResidentClaims | undefined;
    try {
      const c = decodeCode(input.code).claims;
      if (c.kind === 'resident') decoded = c;
    } catch {
      decoded = undefined;
    }
    // Only claims whose signature verified name anybody (verifier/src/verify.ts).
    const signed = verdict.claims?.kind === 'resident' ? verdict.claims : undefined;
    const own = decoded?.iss === config.ISSUER_ID;
    let owner: string | undefined;
    let codeResult: string = verdict.code;
    if (signed && own) {
      owner = (await codeOwner(tx, signed.cti))?.p ?? signed.sub;
      // Signed with our key, yet not a code we issued (or one long expired).
      if (!owner && verdict.valid) codeResult = 'CODE_UNKNOWN';
    }

    let outcome: LookupOutcome | undefined;
    let decision: Decision | null = null;
    let entitlement: LookupOutcomeRecord['entitlement'];
    if (!decoded) outcome = 'CODE_NOT_VALID';
    else if (!own) outcome = 'CODE_FOREIGN';
    else if (decoded.health.mode === 'printed') outcome = 'CODE_PRINTED';
    else if (verdict.code === 'EXPIRED') outcome = 'CODE_EXPIRED';
    else if (!verdict.valid || !signed || !owner) outcome = 'CODE_NOT_VALID';
    else if (await codeUsed(tx, signed.cti)) outcome = 'CODE_REPLAYED';
    else {
      markCodeUsed(tx, signed.cti, signed.exp, desk.id);
      await spendShownCode(tx, owner, signed.cti);
      if (!desk.purposes.includes(input.purpose)) outcome = 'PURPOSE_NOT_ALLOWED';
      else {
        decision = await this.admission(tx, desk, signed, owner);
        if (decision === 'deny') outcome = 'ADMISSION_DENIED';
        else {
          const e = await entitlementFor(tx, this.app.secrets.encryptionKey, owner, input.purpose);
          if (e.paused) outcome = 'CONSENT_PAUSED';
          else if (e.card && !e.link) outcome = 'CARD_NOT_LINKED';
          else {
            outcome = 'resolved';
            entitlement = await this.entitlement(tx, input.purpose, owner, e.link);
          }
        }
      }
    }

    // Whose chain it goes on: the resident's, or (as at a staff scan) a signed foreign code's, and always the desk's.
    const subjects = [deskSubject(desk.id)];
    if (owner) subjects.unshift(residentSubject(owner));
    else if (signed && !own) subjects.unshift(`f:${signed.iss}:${signed.cti}`);
    const event = await tx.append({
      type: 'service.looked-up',
      subjects,
      data: {
        desk: desk.id,
        deskKind: desk.kind,
        venue: desk.venue.id,
        purpose: input.purpose,
        outcome,
        decision,
        codeResult,
        cti: signed?.cti ?? null,
      },
    });
    const at = event.at;
    const deskEntry: DeskLookupEntry = { seq: event.seq, at, purpose: input.purpose, outcome, decision };
    tx.put('desks', deskKey(desk.id, at, event.seq), deskEntry);
    if (owner) {
      const entry: ResidentLookupEntry = {
        seq: event.seq,
        at,
        desk: { id: desk.id, name: desk.name, kind: desk.kind },
        venue: { name: desk.venue.name },
        purpose: input.purpose,
        outcome,
      };
      tx.put('desks', residentKey(owner, at, event.seq), entry);
    }
    const labels = { purpose: input.purpose, outcome };
    tx.onCommit(() => this.app.metrics.inc('ankang_lookups_total', 'Service look-ups by purpose and outcome', labels));
    return {
      outcome,
      purpose: input.purpose,
      decision,
      colour: signed && own && verdict.valid ? signed.health.colour : null,
      maskedName: outcome === 'resolved' ? signed!.health.maskedName : null,
      seq: event.seq,
      at,
      ...(entitlement ? { entitlement } : {}),
    };
  }

  /**
   * The answer to a resolved look-up, after the commit: for a fare, the payment token with a
   * fare request the issuer signs for this look-up (it names the look-up's sequence number).
   */
  async answer(o: LookupOutcomeRecord, desk: DeskRecord, input: ResolveInput) {
    let result = o.entitlement as LookupResult;
    if (input.purpose === 'fare') {
      const { provider, token } = o.entitlement as { provider: string; token: string };
      const iat = Math.floor(Date.parse(o.at) / 1000);
      const claims = {
        iss: this.app.config.ISSUER_ID,
        jti: fareRequestId(),
        iat,
        exp: iat + FARE_REQUEST_TTL_SECONDS,
        provider,
        token,
        amount: input.amount!,
        currency: 'CNY' as const,
        desk: desk.id,
        venue: desk.venue.id,
        lookup: o.seq,
      };
      result = { provider, token, fareRequest: await signFareRequest(claims, this.app.keys.active().signer) };
    }
    const { outcome, purpose, decision, colour, maskedName, seq, at } = o;
    return { outcome, purpose, decision, colour, maskedName, seq, at, result };
  }

  /** The venue's admission decision for this code, as a staff scan at the desk's venue would make it. */
  private async admission(tx: Tx, desk: DeskRecord, claims: ResidentClaims, owner: string): Promise<Decision> {
    const facts: ScanFacts = {
      colour: claims.health.colour,
      codeResult: 'VALID',
      codeValid: true,
      foreign: false,
      printed: false,
      temperatureTaken: false,
      temperatureC: null,
      hasFever: false,
      checkedInToday: !!(await tx.get('index', `daily/${owner}/${shanghaiDay(tx.now)}`)),
      certificate: false,
      method: 'staff',
    };
    return evaluatePolicy(this.app.rules.policies.current.doc, desk.venue, facts).decision;
  }

  /** Only the purpose's own field: a card reference, the identity, or the payment token (signed into a fare request later). */
  private async entitlement(
    tx: Tx,
    purpose: Purpose,
    owner: string,
    link?: { ref: string; provider?: string },
  ): Promise<LookupOutcomeRecord['entitlement']> {
    switch (purpose) {
      case 'registration':
        return { healthCard: link!.ref };
      case 'insurance-payment':
        return { insuranceVoucher: link!.ref };
      case 'social-security':
        return { socialSecurityCard: link!.ref };
      case 'identity': {
        const rec = (await tx.get<ResidentRecord>('residents', owner))!;
        const key = this.app.secrets.encryptionKey;
        return {
          name: openField(key, rec.nameSealed, owner),
          idType: rec.idType,
          idNumber: openField(key, rec.idSealed, owner),
        };
      }
      case 'fare':
        return { provider: link!.provider!, token: link!.ref };
    }
  }
}
