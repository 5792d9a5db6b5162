// Venues, residents, scans and check-ins through the HTTP API, on top of ./service, for the scenario tests.
import { expect } from 'chai';
import { decodeCode, encodeCode, type ResidentClaims } from '../../verifier/src';
import type { LedgerEvent } from '../../verifier/src/event';
import type { ResidentSession } from '../../scripts/lib/sign-in';
import { applicant, apply, type Application, type Reply, type TestService } from './service';

export interface Venue {
  id: string;
  type: string;
  subtype: string;
  name: string;
  district: string;
  /** The venue code text, as printed at the gate. */
  code: string;
  vehicle?: { plate?: string; route?: string };
}

export interface Resident {
  body: Application;
  pseudonym: string;
  colour: string;
  token: string;
  /** The session the resident signed in with (its access token is `token`). */
  session: ResidentSession;
  /** The dynamic code issued with the application. */
  code: string;
}

/** POST /v1/venues; fails the test unless it answers 201. */
export async function registerVenue(svc: TestService, operator: string, body: Record<string, unknown>): Promise<Venue> {
  const r = await svc.call('POST', '/v1/venues', { token: operator, json: body });
  expect(r.status, JSON.stringify(r.body)).to.equal(201);
  return r.body;
}

/** POST /v1/residents for a new person; fails the test unless it answers 201. */
export async function newResident(svc: TestService, overrides: Partial<Application> = {}): Promise<Resident> {
  const body = applicant(overrides);
  const r = await apply(svc, body);
  expect(r.status, JSON.stringify(r.body)).to.equal(201);
  return {
    body,
    pseudonym: r.body.resident.pseudonym,
    colour: r.body.resident.colour,
    token: r.token,
    session: r.session,
    code: r.body.code.code,
  };
}

/** POST /v1/checkins: the resident scans the venue code. */
export function checkin(svc: TestService, resident: Resident, venue: Venue, temperatureC?: number): Promise<Reply> {
  return svc.call('POST', '/v1/checkins', {
    token: resident.token,
    json: { venueCode: venue.code, ...(temperatureC === undefined ? {} : { temperatureC }) },
  });
}

/** POST /v1/scans: staff at the venue scan a code or take a certificate number. */
export function staffScan(
  svc: TestService,
  operator: string,
  body: { venueId: string; code?: string; temperatureC?: number; certificateNo?: string },
): Promise<Reply> {
  return svc.call('POST', '/v1/scans', { token: operator, json: body });
}

/** GET /v1/residents/me/code for the resident's current code text. */
export async function currentCode(
  svc: TestService,
  resident: Resident,
  mode: 'dynamic' | 'printed' = 'dynamic',
): Promise<string> {
  const r = await svc.call('GET', `/v1/residents/me/code?mode=${mode}`, { token: resident.token });
  expect(r.status, JSON.stringify(r.body)).to.equal(200);
  return r.body.code;
}

/** POST /v1/feeds/close-contacts naming the resident as a close contact exposed a day ago. */
export async function reportCloseContact(svc: TestService, feedToken: string, resident: Resident): Promise<void> {
  const exposedAt = new Date(svc.clock.ms - 86_400_000).toISOString();
  const r = await svc.call('POST', '/v1/feeds/close-contacts', {
    token: feedToken,
    json: { records: [{ idType: resident.body.idType, idNumber: resident.body.idNumber, degree: 1, exposedAt }] },
  });
  expect(r.status, JSON.stringify(r.body)).to.equal(201);
}

/** The committed event with this sequence number. */
export async function eventAt(svc: TestService, seq: number): Promise<LedgerEvent> {
  const e = await svc.running.app.ledger.getEvent(seq);
  expect(e, `event ${seq}`).to.not.equal(undefined);
  return e!;
}

/** Every committed event after `afterSeq`, in order. */
export async function eventsAfter(svc: TestService, afterSeq: number): Promise<LedgerEvent[]> {
  const out: LedgerEvent[] = [];
  for await (const e of svc.running.app.ledger.events(afterSeq + 1)) out.push(e);
  return out;
}

/** The sequence number of the last committed event. */
export function headSeq(svc: TestService): number {
  return svc.running.app.ledger.getHead().seq;
}

/** Checks the scan event behind a decision: one 'scan.recorded' naming the policy version and rule. */
export async function expectScanEvent(
  svc: TestService,
  outcome: { seq: number; decision: string; rule: string; policyVersion: number },
  subjects: string[],
): Promise<LedgerEvent> {
  const e = await eventAt(svc, outcome.seq);
  expect(e.type).to.equal('scan.recorded');
  expect(e.subjects).to.have.members(subjects);
  expect(e.data).to.include({ decision: outcome.decision, rule: outcome.rule, policyVersion: outcome.policyVersion });
  return e;
}

/** The same code with a claim changed and the original signature kept: a forgery. */
export function tamper(code: string, change: (claims: ResidentClaims) => ResidentClaims): string {
  const d = decodeCode(code);
  return encodeCode({ kid: d.kid, claims: change(d.claims as ResidentClaims), signature: d.signature });
}
