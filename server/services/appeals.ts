import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Colour } from '../../verifier/src';
import { openField, sealField } from '../crypto/pii';
import { ServiceError } from '../errors';
import type { Principal } from '../http/auth';
import { safeText } from '../http/text';
import type { Tx } from '../../ledger/ledger';
import type { AppContext } from '../context';
import { putResident } from './resident-index';
import { residentSubject, sealOverrideReason, type ResidentRecord, type ResidentService } from './residents';

const COLOURS = ['green', 'yellow', 'red'] as const;
/** Seven or more digits in a row, single spaces or dashes allowed between them: an ID, passport or phone number. */
const LONG_NUMBER = /\d(?:[\s-]?\d){6,}/;
const DATE = /\b\d{4}-\d{1,2}-\d{1,2}\b/g;
const carriesNumber = (s: string) => LONG_NUMBER.test(s.replace(DATE, ' '));

export const appealSchema = z.strictObject({
  reason: safeText(1, 500, { multiline: true }),
  requestedColour: z.enum(COLOURS).optional(),
});

export const decisionSchema = z
  .strictObject({
    decision: z.enum(['override', 'reject']),
    colour: z.enum(COLOURS).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
    // The ledger keeps only a salted digest of the reason; the text is shown to the resident
    // and kept with the appeal, so it must not carry an ID or phone number either.
    reason: safeText(1, 500, { multiline: true }).refine(
      (s) => !carriesNumber(s),
      'the reason is shown to the resident: leave out ID, passport and phone numbers (and names)',
    ),
  })
  .superRefine((b, ctx) => {
    if (b.decision === 'override' && !b.colour)
      ctx.addIssue({ code: 'custom', path: ['colour'], message: 'an override needs a colour' });
    if (b.decision === 'reject' && (b.colour || b.until))
      ctx.addIssue({
        code: 'custom',
        path: [b.colour ? 'colour' : 'until'],
        message: 'only an override has a colour and an end',
      });
  });
export type DecisionInput = z.infer<typeof decisionSchema>;

export const appealQueueSchema = z.strictObject({
  status: z.enum(['open', 'decided']).default('open'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const appealIdSchema = z.string().regex(/^[A-Za-z0-9_-]{12}$/, 'an appeal id');

export interface AppealRecord {
  id: string;
  pseudonym: string;
  /** The resident's own words: sealed at rest, never in an event. */
  reasonSealed: string;
  requestedColour: Colour | null;
  colourAtFiling: Colour;
  status: 'open' | 'decided';
  filedAt: string;
  /** `reasonSalt` opens the event's `reasonDigest` = SHA-256(salt ‖ UTF-8 reason) to an auditor shown the text. */
  decision?: {
    decision: 'override' | 'reject';
    colour: Colour | null;
    until: string | null;
    reviewer: string;
    /** The reviewer's reason, sealed like the appellant's (`decisionAad`). */
    reasonSealed?: string;
    /** The reason in clear: records decided before decision reasons were sealed, until `sealStoredText` seals them at start. */
    reason?: string;
    reasonSalt: string;
    at: string;
    seq: number;
  };
}

const appealKey = (id: string) => `appeal/${id}`;
const openKey = (p: string) => `appeal-open/${p}`;
const ofKey = (p: string, filedAt: string, id: string) => `appeal-of/${p}/${filedAt}/${id}`;
const queueKey = (status: AppealRecord['status'], at: string, id: string) => `appeal-queue/${status}/${at}/${id}`;
const reasonAad = (a: Pick<AppealRecord, 'id' | 'pseudonym'>) => `appeal:${a.id}:${a.pseudonym}`;
/** Binds a decision's sealed reason to its appeal, apart from the appellant's own reason. */
export const decisionAad = (a: Pick<AppealRecord, 'id' | 'pseudonym'>) => `appeal-decision:${a.id}:${a.pseudonym}`;

/**
 * What the ledger holds of a decision's reason: free text may name people, and an event can
 * never be taken back, so the event commits to the text (hex SHA-256 of salt ‖ UTF-8 text)
 * without carrying it.
 */
export const reasonDigest = (saltHex: string, reason: string) =>
  createHash('sha256').update(Buffer.from(saltHex, 'hex')).update(reason, 'utf8').digest('hex');

/**
 * Appeals (12345 热线): a resident disputes their colour, a health reviewer overrides it
 * (for a time or until lifted) or rejects the appeal. An override is stored on the resident
 * record, where `ResidentService.reevaluate` lets it win over the rules until its `until`;
 * the review job re-evaluates at that moment, so the rules' colour returns on its own.
 *
 * Index keys (space 'index'): `appeal/<id>` the record; `appeal-open/<pseudonym>` the one
 * open appeal; `appeal-of/<pseudonym>/<filedAt>/<id>` a resident's appeals;
 * `appeal-queue/<open|decided>/<time>/<id>` the reviewers' queues.
 */
export class AppealService {
  constructor(
    private readonly app: AppContext,
    private readonly residents: ResidentService,
  ) {}

  async file(tx: Tx, p: Principal, input: z.infer<typeof appealSchema>) {
    const pseudonym = p.pseudonym!;
    const r = await tx.get<ResidentRecord>('residents', pseudonym);
    if (!r) throw new ServiceError('NOT_FOUND', 'no resident for this token');
    const open = await tx.get<string>('index', openKey(pseudonym));
    if (open) throw new ServiceError('CONFLICT', `appeal ${open} is still open; wait for its decision`);
    const id = randomBytes(9).toString('base64url');
    const filedAt = tx.now.toISOString();
    const appeal: AppealRecord = {
      id,
      pseudonym,
      reasonSealed: sealField(this.app.secrets.encryptionKey, input.reason, reasonAad({ id, pseudonym })),
      requestedColour: input.requestedColour ?? null,
      colourAtFiling: r.colour,
      status: 'open',
      filedAt,
    };
    tx.put('index', appealKey(id), appeal);
    tx.put('index', openKey(pseudonym), id);
    tx.put('index', ofKey(pseudonym, filedAt, id), 1);
    tx.put('index', queueKey('open', filedAt, id), 1);
    const event = await tx.append({
      type: 'appeal.filed',
      subjects: [residentSubject(pseudonym)],
      data: { appealId: id, requestedColour: appeal.requestedColour },
    });
    return { ...this.view(appeal), seq: event.seq };
  }

  /** GET /v1/residents/me/appeals: newest first, with the resident's own reason. */
  async mine(p: Principal) {
    const prefix = `appeal-of/${p.pseudonym}/`;
    const out = [];
    for await (const key of this.app.ledger.space('index').keys({ gt: prefix, lt: `${prefix}~`, reverse: true })) {
      const a = await this.app.ledger.read<AppealRecord>('index', appealKey(key.slice(key.lastIndexOf('/') + 1)));
      if (a) out.push(this.view(a));
    }
    return { appeals: out };
  }

  /** GET /v1/appeals: open appeals oldest first (first filed, first reviewed); decided ones newest first. */
  async queue(q: z.infer<typeof appealQueueSchema>) {
    const { ledger } = this.app;
    const prefix = `appeal-queue/${q.status}/`;
    const out = [];
    for await (const key of ledger
      .space('index')
      .keys({ gt: prefix, lt: `${prefix}~`, reverse: q.status === 'decided', limit: q.limit })) {
      const a = await ledger.read<AppealRecord>('index', appealKey(key.slice(key.lastIndexOf('/') + 1)));
      if (!a) continue;
      const r = await ledger.read<ResidentRecord>('residents', a.pseudonym);
      out.push({
        ...this.view(a),
        resident: r
          ? {
              pseudonym: r.pseudonym,
              maskedName: r.maskedName,
              idLast4: r.idLast4,
              district: r.district,
              colour: r.colour,
              reasons: r.reasons,
            }
          : null,
      });
    }
    return { status: q.status, appeals: out };
  }

  /** POST /v1/appeals/:id/decision. */
  async decide(tx: Tx, id: string, input: DecisionInput, reviewer: Principal) {
    const a = await tx.get<AppealRecord>('index', appealKey(id));
    if (!a) throw new ServiceError('NOT_FOUND', 'no such appeal');
    if (a.status !== 'open') throw new ServiceError('CONFLICT', 'this appeal has already been decided');
    const until = input.until ? new Date(input.until).toISOString() : null;
    if (until && Date.parse(until) <= tx.now.getTime()) {
      throw new ServiceError('VALIDATION_FAILED', 'until must be in the future', [
        { path: 'until', code: 'too_small', message: 'a time after now' },
      ]);
    }
    const r = await tx.get<ResidentRecord>('residents', a.pseudonym);
    if (!r) throw new ServiceError('NOT_FOUND', 'the appellant has no resident record');
    const at = tx.now.toISOString();
    const colour = input.decision === 'override' ? input.colour! : null;
    const reasonSalt = randomBytes(16).toString('hex');
    const event = await tx.append({
      type: 'appeal.decided',
      subjects: [residentSubject(a.pseudonym)],
      data: {
        appealId: id,
        decision: input.decision,
        colour,
        until,
        reviewer: reviewer.id,
        reasonDigest: reasonDigest(reasonSalt, input.reason),
      },
    });
    let record = r;
    if (input.decision === 'override') {
      record = await this.residents.reevaluate(
        tx,
        {
          ...r,
          override: {
            colour: colour!,
            reasonSealed: sealOverrideReason(this.app.secrets.encryptionKey, r.pseudonym, input.reason),
            until,
            by: reviewer.id,
            at,
          },
        },
        undefined,
        `appeal:${id}`,
      );
      // reevaluate writes only what changed the outcome; the override itself must be kept either way.
      await putResident(tx, record);
    }
    const reasonSealed = sealField(this.app.secrets.encryptionKey, input.reason, decisionAad(a));
    const decided: AppealRecord = {
      ...a,
      status: 'decided',
      decision: {
        decision: input.decision,
        colour,
        until,
        reviewer: reviewer.id,
        reasonSealed,
        reasonSalt,
        at,
        seq: event.seq,
      },
    };
    tx.put('index', appealKey(id), decided);
    tx.del('index', openKey(a.pseudonym));
    tx.del('index', queueKey('open', a.filedAt, id));
    tx.put('index', queueKey('decided', at, id), 1);
    return {
      ...this.view(decided),
      resident: {
        pseudonym: record.pseudonym,
        colour: record.colour,
        reasons: record.reasons,
        reviewAt: record.reviewAt,
      },
    };
  }

  private view(a: AppealRecord) {
    return {
      id: a.id,
      status: a.status,
      reason: openField(this.app.secrets.encryptionKey, a.reasonSealed, reasonAad(a)),
      requestedColour: a.requestedColour,
      colourAtFiling: a.colourAtFiling,
      filedAt: a.filedAt,
      decision: a.decision
        ? {
            decision: a.decision.decision,
            colour: a.decision.colour,
            until: a.decision.until,
            reason: a.decision.reasonSealed
              ? openField(this.app.secrets.encryptionKey, a.decision.reasonSealed, decisionAad(a))
              : (a.decision.reason ?? ''),
            reasonSalt: a.decision.reasonSalt,
            seq: a.decision.seq,
            at: a.decision.at,
          }
        : null,
    };
  }
}
