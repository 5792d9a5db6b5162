import type { RunningService } from '../../server/bootstrap';
import { outboxFile } from '../../server/bootstrap';
import { signIn } from '../../scripts/lib/sign-in';
import { phoneNumber, residentIdNumber } from './service';

/**
 * Limits raised for a service in its own process that signs hundreds of people up from one
 * loopback address (each sign-in is a code sent, code checks, a sign-up and two /v1/auth calls).
 */
export const SIGN_UP_LIMITS = {
  RATE_APPLY_PER_ADDRESS: '100000',
  RATE_SIGNIN_PER_ADDRESS: '100000',
  IDP_SENDS_PER_ADDRESS: '100000',
  IDP_CHECKS_PER_ADDRESS: '100000',
  IDP_SIGNUPS_PER_ADDRESS: '100000',
};

/**
 * A new resident signs in through a running service's embedded provider (their own phone,
 * codes from the outbox) and applies with that session; resolves with the application's status.
 */
export async function applyAsNewResident(s: RunningService): Promise<number> {
  const person = { idType: 'resident-id' as const, idNumber: residentIdNumber(), name: '王小明', phone: phoneNumber() };
  const { access } = await signIn(s.url, person, { codes: outboxFile(s.app.config) });
  const r = await fetch(`${s.url}/v1/residents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${access}` },
    body: JSON.stringify({ phone: person.phone, district: '340104', declaration: { temperatureC: 36.5 } }),
  });
  return r.status;
}
