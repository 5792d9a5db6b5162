import { randomBytes } from 'node:crypto';
import type { Signer } from '../../verifier/src';

/**
 * 码上支付: the fare request a fare reader's look-up returns, which the transit operator sends
 * to the resident's payment provider. It is a JWS (RFC 7515) in compact form, signed by the
 * issuer's current Ed25519 key (alg EdDSA, RFC 8037); the provider checks it against the key
 * the trust list publishes for `kid` (docs/payment-provider.md is the contract). Ankang never
 * sees a card number and moves no money: it vouches that this token's owner showed a fresh,
 * admitted code at this reader, for this amount, once.
 */

export const FARE_REQUEST_TYPE = 'ankang-fare+jwt';
/** How long a provider may accept a fare request after it was signed. */
export const FARE_REQUEST_TTL_SECONDS = 300;

export interface FareClaims {
  /** Issuer region code. */
  iss: string;
  /** Unique id; a provider charges each at most once. */
  jti: string;
  iat: number;
  exp: number;
  /** The payment provider holding the account. */
  provider: string;
  /** The provider's token for the resident's account (what the provider linked). */
  token: string;
  /** Amount in fen (分), CNY. */
  amount: number;
  currency: 'CNY';
  /** The fare reader (desk id) and its venue, so the operator's statement names where. */
  desk: string;
  venue: string;
  /** Sequence number of the look-up event on the issuer's log. */
  lookup: number;
}

const b64u = (v: Uint8Array | string) => Buffer.from(v).toString('base64url');

/** A fresh fare request id. */
export const fareRequestId = () => randomBytes(16).toString('base64url');

/** Signs `claims` as a compact JWS with the issuer's signer; `kid` is the key's kid as the trust list writes it (base64url of 8 bytes). */
export async function signFareRequest(claims: FareClaims, signer: Signer): Promise<string> {
  const header = { alg: 'EdDSA', typ: FARE_REQUEST_TYPE, kid: b64u(signer.kid) };
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
  const signature = await signer.sign(new TextEncoder().encode(input));
  return `${input}.${b64u(signature)}`;
}
