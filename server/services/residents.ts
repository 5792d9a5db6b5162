import { randomInt } from 'node:crypto';
import { randomBytesPooled as randomBytes } from '../../ledger/random';
import { z } from 'zod';
import {
  DEFAULT_CLOCK_SKEW_SECONDS,
  signCode,
  type Colour,
  type CodeMode,
  type ResidentClaims,
} from '../../verifier/src';
import type { Binding } from '../http/auth';
import { openField, pseudonymFor, sealField } from '../crypto/pii';
import { idLast4, validateIdentity, validatePhone, ID_TYPES, type IdType } from '../domain/identity';
import { isRegionCode } from '../domain/regions';
import { maskId, maskName, maskPhone } from '../domain/mask';
import { safeText } from '../http/text';
import { ServiceError, type FieldError } from '../errors';
import type { Tx } from '../../ledger/ledger';
import { evaluateRules, type RawFacts } from '../rules';
import type { AppContext } from '../context';
import { putResident } from './resident-index';
import { getFacts, putFacts } from './facts-store';
import { indexCode } from './code-index';

const DAY = 86_400_000;
const region = z.string().regex(/^\d{6}$/, 'a 6-digit GB/T 2260 region code');

/** The body of POST /v1/residents (申领): who, where they live, and a health declaration. */
export const declarationSchema = z.strictObject({
  temperatureC: z
    .number()
    .min(34, 'below 34 °C is not a body temperature')
    .max(43, 'above 43 °C is not a body temperature'),
  symptoms: z
    .array(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/))
    .max(20)
    .default([]),
  visited: z
    .array(z.strictObject({ region, date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD') }))
    .max(50)
    .default([]),
  contactWithCase: z.boolean().default(false),
});

// The masked name goes into the code as UTF-8 and is shown at gates: it must read back, and look, the same.
export const nameSchema = safeText(1, 64);

/**
 * The body of POST /v1/residents (申领). Who the person is comes from their sign-in, never
 * from here: the ID fields may be sent, but must then name the signed-in identity.
 */
export const applySchema = z.strictObject({
  idType: z.enum(ID_TYPES).optional(),
  idNumber: z.string().min(1).max(32).optional(),
  name: nameSchema.optional(),
  phone: z.string().min(5).max(32),
  district: region,
  declaration: declarationSchema,
});
export type ApplyInput = z.infer<typeof applySchema>;

/** An application with the identity filled in: from the sign-in, or typed by a border officer from a passport. */
export interface FullApplication extends Omit<ApplyInput, 'idType' | 'idNumber' | 'name'> {
  idType: IdType;
  idNumber: string;
  name: string;
}
export type Declaration = z.infer<typeof declarationSchema>;

export interface IssuedCode {
  text: string;
  cti: string;
  iat: number;
  exp: number;
  colour: Colour;
  ruleVersion: number;
  kid: string;
  /** A desk used this code for a look-up (server/services/lookups.ts): it is never shown again. */
  spent?: true;
}

export interface ResidentRecord {
  pseudonym: string;
  /** Drawn at random from the status list's space; re-drawn once every code that carried it has expired. */
  statusIndex: number;
  /**
   * The latest `exp` (seconds) of a code issued with `statusIndex`; null while no code carries
   * it. Missing in records written before random indexes: their codes' latest `exp` stands in.
   */
  statusIndexUntil?: number | null;
  idType: IdType;
  idSealed: string;
  nameSealed: string;
  phoneSealed: string;
  maskedName: string;
  maskedId: string;
  maskedPhone: string;
  idLast4: string;
  district: string;
  colour: Colour;
  ruleVersion: number;
  reasons: Array<{ id: string; colour: Colour; reason: { zh: string; en: string } }>;
  evaluatedAt: string;
  reviewAt: string | null;
  /** An authority's decision that wins over the rules until it ends (appeals). */
  /**
   * An appeal reviewer's colour. The reason is sealed (`reasonSealed`, bound to the resident):
   * free text may name people. `reason` is the clear text records from before it was sealed
   * hold, until the next start seals it (server/services/at-rest.ts).
   */
  override?: { colour: Colour; reason?: string; reasonSealed?: string; until: string | null; by: string; at: string };
  codes: Partial<Record<CodeMode, IssuedCode>>;
  createdAt: string;
  updatedAt: string;
}

const STATUS_VALUE: Record<Colour, number> = { green: 0, yellow: 1, red: 2 };

/** The subject a resident's events are chained under. */
export const residentSubject = (pseudonym: string) => `r:${pseudonym}`;

/**
 * Marks the resident's current dynamic code spent when it is `cti` (a desk used it for a
 * look-up), so the next code fetch issues a fresh one; the code still passes at gates until it expires.
 */
export async function spendShownCode(tx: Tx, pseudonym: string, cti: string): Promise<void> {
  const record = await tx.get<ResidentRecord>('residents', pseudonym);
  const shown = record?.codes.dynamic;
  if (!record || shown?.cti !== cti) return;
  await putResident(tx, { ...record, codes: { ...record.codes, dynamic: { ...shown, spent: true } } });
}

function temperatureBand(t: number): 'normal' | 'fever' {
  return t >= 37.3 ? 'fever' : 'normal';
}

/**
 * Domain checks zod cannot make: ID check digit and format, phone, region codes, visit
 * dates. All problems are reported at once; nothing is written when there is any.
 */
export function checkApplication(input: FullApplication, now: Date): { idNumber: string; phone: string } {
  const fields: FieldError[] = [];
  const id = validateIdentity(input.idType, input.idNumber, now);
  if (!id.ok) fields.push({ path: 'idNumber', code: id.code, message: id.message });
  const phone = validatePhone(input.phone, input.idType);
  if (!phone.ok) fields.push({ path: 'phone', code: phone.code, message: phone.message });
  if (!isRegionCode(input.district))
    fields.push({
      path: 'district',
      code: 'REGION_UNKNOWN',
      message: `${input.district} is not a GB/T 2260 region code`,
    });
  checkVisits(input.declaration, now, fields);
  if (fields.length) {
    const code = !id.ok
      ? 'INVALID_ID_NUMBER'
      : fields.every((f) => f.code === 'REGION_UNKNOWN')
        ? 'UNKNOWN_REGION'
        : 'VALIDATION_FAILED';
    throw new ServiceError(code, fields[0].message, fields);
  }
  return { idNumber: (id as { normalized: string }).normalized, phone: (phone as { normalized: string }).normalized };
}

/** Visits name known regions on real dates within the last 30 days, none in the future. */
export function checkVisits(d: Declaration, now: Date, fields: FieldError[], prefix = 'declaration'): void {
  d.visited.forEach((v, i) => {
    if (!isRegionCode(v.region))
      fields.push({
        path: `${prefix}.visited.${i}.region`,
        code: 'REGION_UNKNOWN',
        message: `${v.region} is not a GB/T 2260 region code`,
      });
    const t = Date.parse(`${v.date}T00:00:00+08:00`);
    const real = !Number.isNaN(t) && new Date(t + 8 * 3600_000).toISOString().startsWith(v.date);
    if (!real || t > now.getTime() || now.getTime() - t > 30 * DAY) {
      fields.push({
        path: `${prefix}.visited.${i}.date`,
        code: 'DATE_OUT_OF_RANGE',
        message: 'a visit date must be a real date within the last 30 days',
      });
    }
  });
}

export class ResidentService {
  constructor(private readonly app: AppContext) {}

  private pseudonym(idType: string, idNumber: string) {
    return pseudonymFor(this.app.secrets.pseudonymKey, idType, idNumber);
  }

  /**
   * POST /v1/residents: create or update the one record of this person, then issue a code.
   * With `account` (an application by a signed-in resident) the record must be reachable
   * through that account, or be bound to it now; the name is the provider's, which wins
   * over the one on record. Without it (入境发码, typed from a document) a different name is
   * refused.
   */
  async apply(
    tx: Tx,
    input: FullApplication,
    checked: { idNumber: string; phone: string },
    opts: { account?: string } = {},
  ) {
    const { encryptionKey } = this.app.secrets;
    const p = this.pseudonym(input.idType, checked.idNumber);
    const now = tx.now.toISOString();
    let record = await tx.get<ResidentRecord>('residents', p);
    const created = !record;
    if (opts.account) {
      const b = await tx.get<Binding>('bindings', p);
      if (b && b.account !== opts.account)
        throw new ServiceError(
          'REBIND_REQUIRED',
          'this record is bound to another account; confirm the move with a code sent to the phone on record (POST /v1/residents/me/rebind)',
        );
    }
    if (record) {
      const sameName = openField(encryptionKey, record.nameSealed, p) === input.name;
      if (!sameName && !opts.account)
        throw new ServiceError(
          'IDENTITY_MISMATCH',
          'this ID is registered under another name; call 12345 to correct it',
        );
      record = {
        ...record,
        // A new name shows on the next code: the current ones carry the old masked name.
        ...(sameName
          ? {}
          : { nameSealed: sealField(encryptionKey, input.name, p), maskedName: maskName(input.name), codes: {} }),
        phoneSealed: sealField(encryptionKey, checked.phone, p),
        maskedPhone: maskPhone(checked.phone),
        district: input.district,
        updatedAt: now,
      };
    } else {
      const statusIndex = await drawStatusIndex(tx, this.app.statusBook.drawSpace(1));
      tx.put('residentsByIndex', String(statusIndex), p);
      record = {
        pseudonym: p,
        statusIndex,
        statusIndexUntil: null,
        idType: input.idType,
        idSealed: sealField(encryptionKey, checked.idNumber, p),
        nameSealed: sealField(encryptionKey, input.name, p),
        phoneSealed: sealField(encryptionKey, checked.phone, p),
        maskedName: maskName(input.name),
        maskedId: maskId(checked.idNumber),
        maskedPhone: maskPhone(checked.phone),
        idLast4: idLast4(checked.idNumber),
        district: input.district,
        colour: 'green',
        ruleVersion: 0,
        reasons: [],
        evaluatedAt: now,
        reviewAt: null,
        codes: {},
        createdAt: now,
        updatedAt: now,
      };
    }
    const facts: RawFacts = {
      ...((await getFacts(tx, encryptionKey, p)) ?? {}),
      declaration: { at: now, ...input.declaration },
    };
    putFacts(tx, encryptionKey, p, facts);
    const data = {
      idType: input.idType,
      district: input.district,
      statusIndex: record.statusIndex,
      temperatureBand: temperatureBand(input.declaration.temperatureC),
      symptoms: input.declaration.symptoms.length,
      visits: input.declaration.visited.length,
      contactWithCase: input.declaration.contactWithCase,
    };
    if (created) {
      // A new record's first colour is part of its application: one event, not a status.changed beside it.
      record = await this.reevaluate(tx, record, facts, 'application', { firstInCallersEvent: true });
      await tx.append({
        type: 'resident.applied',
        subjects: [residentSubject(p)],
        data: {
          ...data,
          colour: record.colour,
          ruleVersion: record.ruleVersion,
          rules: record.reasons.map((r) => r.id),
        },
      });
    } else {
      await tx.append({ type: 'declaration.submitted', subjects: [residentSubject(p)], data });
      record = await this.reevaluate(tx, record, facts, 'declaration');
    }
    const code = await this.ensureCode(tx, record, 'dynamic');
    // A new phone, name or home district is kept even when neither the colour nor the code changed.
    if (!created) await putResident(tx, code.record);
    if (opts.account && !(await tx.get<Binding>('bindings', p))) {
      tx.put('bindings', p, { account: opts.account, at: now } satisfies Binding);
      // A new record is bound by its own application event; a record someone else created (a border post) is bound by an event of its own.
      if (!created)
        await tx.append({ type: 'account.bound', subjects: [residentSubject(p)], data: { via: 'application' } });
    }
    return { created, record: code.record, code: code.code };
  }

  /**
   * Re-runs the current rules for one resident at tx.now and records any change. A record's
   * first evaluation is a `status.changed` from null, unless `firstInCallersEvent`: then the
   * caller's own event (an application's) records the first colour.
   */
  async reevaluate(
    tx: Tx,
    record: ResidentRecord,
    facts?: RawFacts,
    cause = 'review',
    opts: { firstInCallersEvent?: boolean } = {},
  ): Promise<ResidentRecord> {
    const f = facts ?? (await getFacts(tx, this.app.secrets.encryptionKey, record.pseudonym)) ?? {};
    const rules = this.app.rules.current;
    const ev = evaluateRules(f, this.app.rules.riskAreas, rules.doc, tx.now);
    let colour = ev.colour;
    let reasons = ev.matched;
    const o = record.override;
    const overrideActive = o && (o.until === null || Date.parse(o.until) > tx.now.getTime());
    if (overrideActive) {
      colour = o.colour;
      // The reviewer's own words stay sealed; the reasons list (grid workers read it) says only what happened.
      reasons = [{ id: 'authority-override', colour: o.colour, reason: OVERRIDE_REASON }];
    }
    const reviewCandidates = [
      ev.reviewAt?.getTime(),
      overrideActive && o.until ? Date.parse(o.until) : undefined,
    ].filter((t): t is number => t !== undefined);
    const reviewAt = reviewCandidates.length ? new Date(Math.min(...reviewCandidates)).toISOString() : null;
    let next: ResidentRecord = {
      ...record,
      colour,
      ruleVersion: rules.version,
      reasons,
      evaluatedAt: tx.now.toISOString(),
      reviewAt,
      ...(o && !overrideActive ? { override: undefined } : {}),
    };
    if (record.reviewAt !== reviewAt) {
      if (record.reviewAt) tx.del('reviews', `${record.reviewAt}/${record.pseudonym}`);
      if (reviewAt) tx.put('reviews', `${reviewAt}/${record.pseudonym}`, 1);
    }
    const first = record.ruleVersion === 0;
    const same =
      !first &&
      record.colour === colour &&
      record.ruleVersion === rules.version &&
      record.reviewAt === reviewAt &&
      (record.override === undefined) === (next.override === undefined) &&
      record.reasons.map((r) => r.id).join() === reasons.map((r) => r.id).join();
    // Nothing changed: write nothing, so a code refresh that re-issues nothing stays a read.
    if (same) return record;
    if (!first && record.colour !== colour && statusIndexLapsed(record, tx.now)) {
      // The change must not show on an index whose codes have all expired: whoever saw one would see it.
      record = await this.redrawStatusIndex(tx, record);
      next = { ...next, statusIndex: record.statusIndex, statusIndexUntil: null };
    }
    if (first || record.colour !== colour) {
      if (!(first && opts.firstInCallersEvent))
        await tx.append({
          type: 'status.changed',
          subjects: [residentSubject(record.pseudonym)],
          data: {
            statusIndex: record.statusIndex,
            from: first ? null : record.colour,
            to: colour,
            ruleVersion: rules.version,
            rules: reasons.map((r) => r.id),
            cause,
          },
        });
      tx.onCommit(() => {
        this.app.statusBook.set(record.statusIndex, STATUS_VALUE[colour]);
        this.app.metrics.inc('ankang_status_changes_total', 'Colour changes', { to: colour });
      });
    }
    await putResident(tx, next);
    return next;
  }

  private refreshMargin(mode: CodeMode): number {
    return refreshMarginOf(mode, this.app.config.CODE_REFRESH_MARGIN_SECONDS);
  }

  /**
   * Until when (ms since the epoch) `currentCode` keeps answering with `code`, as long as the
   * record is not written and the rules, risk areas and issuer keys stay: its refresh time, or
   * the record's next review if sooner (a fact or an override that runs out with time).
   */
  codeStaysUntil(record: ResidentRecord, code: IssuedCode, mode: CodeMode): number {
    const refresh = (code.exp - this.refreshMargin(mode)) * 1000;
    return record.reviewAt ? Math.min(refresh, Date.parse(record.reviewAt)) : refresh;
  }

  /** The current code of a mode, re-issued when its colour, rules or key changed or it nears expiry. */
  async ensureCode(
    tx: Tx,
    record: ResidentRecord,
    mode: CodeMode,
  ): Promise<{ record: ResidentRecord; code: IssuedCode; reissued: boolean }> {
    const { config, keys } = this.app;
    const nowS = Math.floor(tx.now.getTime() / 1000);
    const { record: keyRecord, signer } = keys.active();
    const current = record.codes[mode];
    const margin = this.refreshMargin(mode);
    if (
      current &&
      !current.spent &&
      current.colour === record.colour &&
      current.ruleVersion === record.ruleVersion &&
      current.kid === keyRecord.kid &&
      current.exp - nowS > margin
    ) {
      return { record, code: current, reissued: false };
    }
    const ttl = mode === 'dynamic' ? config.CODE_TTL_MINUTES * 60 : config.PRINTED_CODE_TTL_DAYS * 86400;
    record = await this.holdStatusIndex(tx, record, nowS + ttl);
    const claims: ResidentClaims = {
      kind: 'resident',
      iss: config.ISSUER_ID,
      iat: nowS,
      exp: nowS + ttl,
      cti: randomBytes(8).toString('hex'),
      health: {
        colour: record.colour,
        ruleVersion: record.ruleVersion,
        statusIndex: record.statusIndex,
        maskedName: record.maskedName,
        idLast4: record.idLast4,
        mode,
      },
    };
    const text = await signCode(claims, signer);
    const code: IssuedCode = {
      text,
      cti: claims.cti,
      iat: claims.iat,
      exp: claims.exp,
      colour: record.colour,
      ruleVersion: record.ruleVersion,
      kid: keyRecord.kid,
    };
    const next = { ...record, codes: { ...record.codes, [mode]: code } };
    await putResident(tx, next);
    indexCode(tx, { ...code, mode }, record.pseudonym);
    await tx.append({
      type: 'code.issued',
      subjects: [residentSubject(record.pseudonym)],
      data: { cti: code.cti, mode, colour: code.colour, ruleVersion: code.ruleVersion, kid: code.kid, exp: code.exp },
    });
    tx.onCommit(() => this.app.metrics.inc('ankang_codes_issued_total', 'Codes issued', { colour: code.colour, mode }));
    return { record: next, code, reissued: true };
  }

  /**
   * The status index a code issued now carries, held until `exp`. Once every code that carried
   * the current index has expired, a fresh index is drawn: whoever saw an old code cannot
   * follow this resident's colour in the status list past that code's life.
   */
  private async holdStatusIndex(tx: Tx, record: ResidentRecord, exp: number): Promise<ResidentRecord> {
    const held = statusIndexLapsed(record, tx.now) ? await this.redrawStatusIndex(tx, record) : record;
    return { ...held, statusIndexUntil: Math.max(statusIndexUntil(held) ?? 0, exp) };
  }

  /**
   * Moves a resident to a freshly drawn index, in this transaction: the old one is freed (its
   * entry returns to cover). The event names only the new index: the old one is in this
   * subject's earlier events, and one event holding both would hand the link to whoever reads
   * a single event.
   */
  private async redrawStatusIndex(tx: Tx, record: ResidentRecord): Promise<ResidentRecord> {
    const old = record.statusIndex;
    const statusIndex = await drawStatusIndex(tx, this.app.statusBook.drawSpace(0));
    tx.del('residentsByIndex', String(old));
    tx.put('residentsByIndex', String(statusIndex), record.pseudonym);
    await tx.append({ type: 'status.reindexed', subjects: [residentSubject(record.pseudonym)], data: { statusIndex } });
    const value = STATUS_VALUE[record.colour];
    tx.onCommit(() => {
      this.app.statusBook.release(old);
      this.app.statusBook.set(statusIndex, value);
    });
    return { ...record, statusIndex, statusIndexUntil: null };
  }

  /** GET /v1/residents/me/code: evaluates at now, then returns the current (or a fresh) code. */
  async currentCode(tx: Tx, pseudonym: string, mode: CodeMode) {
    const record = await tx.get<ResidentRecord>('residents', pseudonym);
    if (!record) throw new ServiceError('NOT_FOUND', 'no resident for this token');
    const fresh = await this.reevaluate(tx, record, undefined, 'refresh');
    return this.ensureCode(tx, fresh, mode);
  }
}

/**
 * A status index no resident holds, drawn uniformly from [0, space) with the crypto RNG.
 * At most half the space is held (`statusListSizeFor`), so this takes two reads on average.
 */
async function drawStatusIndex(tx: Tx, space: number): Promise<number> {
  for (;;) {
    const index = randomInt(space);
    if ((await tx.get<string>('residentsByIndex', String(index))) === undefined) return index;
  }
}

/**
 * The latest `exp` of a code carrying the record's index, or null while none does. Records
 * written before random indexes have no `statusIndexUntil`: their current codes' stands in.
 */
function statusIndexUntil(record: ResidentRecord): number | null {
  if (record.statusIndexUntil !== undefined) return record.statusIndexUntil;
  const exps = Object.values(record.codes).map((c) => c!.exp);
  return exps.length ? Math.max(...exps) : null;
}

/** Whether every code that carried the record's index has expired, a verifier's clock skew included. */
function statusIndexLapsed(record: ResidentRecord, now: Date): boolean {
  const until = statusIndexUntil(record);
  return until !== null && Math.floor(now.getTime() / 1000) > until + DEFAULT_CLOCK_SKEW_SECONDS;
}

/** The resident as they see themselves: masked fields only. */
export const OVERRIDE_REASON = {
  zh: '申诉复核后由卫生健康部门改判',
  en: 'set by the health authority on review of an appeal',
};

const overrideAad = (pseudonym: string) => `override:${pseudonym}`;

/** Seals an appeal reviewer's reason for the resident's record. */
export function sealOverrideReason(key: Buffer, pseudonym: string, reason: string): string {
  return sealField(key, reason, overrideAad(pseudonym));
}

/** The reviewer's reason on a resident's override, opened (or the clear text of an older record). */
export function overrideReason(key: Buffer, r: ResidentRecord): string | undefined {
  const o = r.override;
  if (!o) return undefined;
  return o.reasonSealed ? openField(key, o.reasonSealed, overrideAad(r.pseudonym)) : o.reason;
}

/** The resident's own view of their record; `key` opens the sealed override reason. */
export function residentView(r: ResidentRecord, key: Buffer) {
  return {
    pseudonym: r.pseudonym,
    statusIndex: r.statusIndex,
    idType: r.idType,
    maskedName: r.maskedName,
    maskedId: r.maskedId,
    maskedPhone: r.maskedPhone,
    district: r.district,
    colour: r.colour,
    ruleVersion: r.ruleVersion,
    reasons: r.reasons,
    evaluatedAt: r.evaluatedAt,
    ...(r.override
      ? { override: { colour: r.override.colour, reason: overrideReason(key, r) ?? '', until: r.override.until } }
      : {}),
  };
}

/** How long before its expiry a code of `mode` is re-issued (seconds): CODE_REFRESH_MARGIN_SECONDS for a dynamic code, a day for a printed one. */
function refreshMarginOf(mode: CodeMode, dynamicMarginSeconds: number): number {
  return mode === 'dynamic' ? dynamicMarginSeconds : 86400;
}

/** A code as the API returns it. */
export function codeView(c: IssuedCode, mode: CodeMode, refreshMarginSeconds: number, issuer: string) {
  return {
    code: c.text,
    mode,
    colour: c.colour,
    issuer,
    ruleVersion: c.ruleVersion,
    issuedAt: new Date(c.iat * 1000).toISOString(),
    expiresAt: new Date(c.exp * 1000).toISOString(),
    refreshAt: new Date((c.exp - refreshMarginOf(mode, refreshMarginSeconds)) * 1000).toISOString(),
  };
}
