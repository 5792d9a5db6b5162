import { z } from 'zod';
import { pseudonymFor } from '../crypto/pii';
import { ServiceError, type ErrorCode, type FieldError } from '../errors';
import type { Principal } from '../http/auth';
import type { Tx } from '../../ledger/ledger';
import type { RawFacts } from '../rules';
import type { AppContext } from '../context';
import {
  applySchema,
  checkApplication,
  declarationSchema,
  nameSchema,
  residentSubject,
  type FullApplication,
  type ResidentService,
} from './residents';
import { venueSubject, type VenueRecord } from './venues';
import { getFacts, putFacts } from './facts-store';

/** The body of POST /v1/border/entries (入境发码): who arrives, from where, and where they will stay. */
export const borderEntrySchema = z.strictObject({
  venueId: z.string().regex(/^[A-Za-z0-9_-]{16}$/, 'a venue id'),
  idType: applySchema.shape.idType.unwrap(),
  idNumber: applySchema.shape.idNumber.unwrap(),
  name: nameSchema,
  phone: applySchema.shape.phone,
  /** ISO 3166-1 alpha-2 code of the country or region the traveller arrives from. */
  from: z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 code in capitals'),
  /** GB/T 2260 code of the district where the traveller will stay. */
  destination: applySchema.shape.district,
  temperatureC: declarationSchema.shape.temperatureC,
});
export type BorderEntryInput = z.infer<typeof borderEntrySchema>;

// ICU knows every assigned ISO 3166-1 code (HK, MO and TW included); it also names
// groupings and private-use codes, which are not places anyone arrives from.
const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
const NOT_A_PLACE = /^(AA|Q[M-Z]|X[A-Z]|ZZ|EU|EZ|UN)$/;

/** Checks the origin of an inbound traveller: an assigned ISO 3166-1 code outside the mainland. */
export function checkOrigin(code: string): FieldError | undefined {
  if (NOT_A_PLACE.test(code) || regionNames.of(code) === undefined) {
    return { path: 'from', code: 'COUNTRY_UNKNOWN', message: `${code} is not an assigned ISO 3166-1 alpha-2 code` };
  }
  if (code === 'CN')
    return {
      path: 'from',
      code: 'NOT_INBOUND',
      message: 'a traveller from the mainland is not inbound; name the country or region they arrive from',
    };
  return undefined;
}

/** The entry as a resident application: the declaration is the temperature taken at the post. */
export function entryApplication(input: BorderEntryInput): FullApplication {
  return {
    idType: input.idType,
    idNumber: input.idNumber,
    name: input.name,
    phone: input.phone,
    district: input.destination,
    declaration: { temperatureC: input.temperatureC, symptoms: [], visited: [], contactWithCase: false },
  };
}

/**
 * The domain checks of POST /v1/residents plus the origin, all reported at once; the
 * destination's problems are named `destination`. Nothing is written when there is any.
 */
export function checkEntry(input: BorderEntryInput, now: Date): { idNumber: string; phone: string } {
  let checked: { idNumber: string; phone: string } | undefined;
  let code: ErrorCode | undefined;
  const fields: FieldError[] = [];
  try {
    checked = checkApplication(entryApplication(input), now);
  } catch (e) {
    if (!(e instanceof ServiceError)) throw e;
    code = e.code;
    fields.push(...(e.fields ?? []).map((f) => (f.path === 'district' ? { ...f, path: 'destination' } : f)));
  }
  const origin = checkOrigin(input.from);
  if (origin) fields.push(origin);
  if (fields.length) {
    const overall: ErrorCode =
      code === 'INVALID_ID_NUMBER'
        ? code
        : fields.every((f) => f.code === 'REGION_UNKNOWN')
          ? 'UNKNOWN_REGION'
          : 'VALIDATION_FAILED';
    throw new ServiceError(overall, fields[0].message, fields);
  }
  return checked!;
}

/**
 * 入境发码: a border post registers an inbound traveller, whose code is issued at once under
 * the quarantine rules — on paper as well, since a traveller may have no phone that works here.
 */
export class BorderService {
  constructor(
    private readonly app: AppContext,
    private readonly residents: ResidentService,
  ) {}

  async enter(
    tx: Tx,
    input: BorderEntryInput,
    checked: { idNumber: string; phone: string },
    venue: VenueRecord,
    by: Principal,
  ) {
    const pseudonym = pseudonymFor(this.app.secrets.pseudonymKey, input.idType, checked.idNumber);
    const arrivedAt = tx.now.toISOString();
    // The arrival is in the facts before the application is evaluated, so the traveller's
    // first code already carries the quarantine colour: no code of another colour is ever issued.
    const facts = (await getFacts(tx, this.app.secrets.encryptionKey, pseudonym)) ?? {};
    putFacts(tx, this.app.secrets.encryptionKey, pseudonym, {
      ...facts,
      inbound: { arrivedAt, from: input.from },
    } satisfies RawFacts);
    const applied = await this.residents.apply(tx, entryApplication(input), checked);
    await tx.append({
      type: 'border.entry',
      subjects: [residentSubject(pseudonym), venueSubject(venue.id)],
      data: { from: input.from, venue: venue.id, by: by.id },
    });
    const printed = await this.residents.ensureCode(tx, applied.record, 'printed');
    tx.onCommit(() =>
      this.app.metrics.inc('ankang_border_entries_total', 'Inbound travellers registered at entry', {
        colour: printed.record.colour,
      }),
    );
    return {
      created: applied.created,
      record: printed.record,
      code: applied.code,
      printedCode: printed.code,
      arrivedAt,
    };
  }
}
