import * as oidc from 'openid-client';
import { validateIdentity, ID_TYPES, type IdType } from '../domain/identity';
import { ServiceError } from '../errors';
import type { VerifiedIdentity } from './sessions';

export interface RelyingPartyOptions {
  /** The provider's issuer identifier (OIDC_ISSUER, or the embedded provider's). */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** This service's callback, registered with the provider. */
  redirectUri: string;
  /**
   * Requests to URLs under `from` go to `to` instead: the embedded provider is served by
   * this same process, which may not reach itself at its public address.
   */
  rewrite?: { from: string; to: string };
  /** Timeout of each request to the provider, in milliseconds. */
  timeoutMs?: number;
  /**
   * The name accounts are keyed under (`finish` returns it as `issuer`), when it must not be
   * the provider's URL: the embedded provider's URL follows the port the service listens on
   * (PORT=0, another port after a restart) while its accounts stay the same. Default: the
   * issuer the ID token names.
   */
  accountIssuer?: string;
  clock?: () => Date;
}

/** What the service keeps between sending a browser to the provider and its return (in a sealed cookie). */
export interface PendingSignIn {
  state: string;
  nonce: string;
  verifier: string;
}

/** The scopes asked for: the subject, the login phone and the real-name identity (name, ID type and number). */
export const SCOPES = 'openid phone identity';

const loopback = (u: string) => ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(u).hostname);

/**
 * The service as an OpenID Connect relying party: authorization code flow with PKCE
 * (S256), a confidential client (client_secret_basic), ID token checked by openid-client
 * against the provider's published keys, nonce and state. Discovery happens on first use
 * and is retried after a failure, so a provider that starts later is found.
 */
export class RelyingParty {
  private configuration?: Promise<oidc.Configuration>;

  constructor(readonly opts: RelyingPartyOptions) {}

  private config(): Promise<oidc.Configuration> {
    const { issuer, clientId, clientSecret, rewrite, timeoutMs = 10_000 } = this.opts;
    const fetcher: oidc.CustomFetch = (url, options) =>
      fetch(
        rewrite && url.startsWith(rewrite.from) ? rewrite.to + url.slice(rewrite.from.length) : url,
        options as RequestInit,
      );
    this.configuration ??= oidc
      .discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(clientSecret), {
        // Plain HTTP only to a provider on this machine (the embedded development one).
        execute: loopback(issuer) ? [oidc.allowInsecureRequests] : [],
        [oidc.customFetch]: fetcher,
        timeout: Math.ceil(timeoutMs / 1000),
      })
      .catch((e: unknown) => {
        this.configuration = undefined;
        throw new ServiceError(
          'SIGN_IN_UNAVAILABLE',
          `the identity provider cannot be reached (${(e as Error).message}); try again shortly`,
        );
      });
    return this.configuration;
  }

  /** Where to send the browser, and what to remember until it comes back. */
  async start(): Promise<{ url: string; pending: PendingSignIn }> {
    const config = await this.config();
    const pending: PendingSignIn = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      verifier: oidc.randomPKCECodeVerifier(),
    };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.opts.redirectUri,
      scope: SCOPES,
      response_type: 'code',
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: 'S256',
    });
    return { url: url.href, pending };
  }

  /**
   * Exchanges the code the provider sent back for an ID token and returns its verified
   * subject and identity, and the issuer the subject's account is keyed under
   * (`accountIssuer`). Every failure is a ServiceError, never a half-signed-in state.
   */
  async finish(
    callback: URL,
    pending: PendingSignIn,
  ): Promise<{ issuer: string; subject: string; identity: VerifiedIdentity }> {
    const config = await this.config();
    let claims: oidc.IDToken | undefined;
    try {
      // The callback URL as the provider knows it (this service's public address), with the query it sent.
      const current = new URL(this.opts.redirectUri);
      current.search = callback.search;
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims();
    } catch (e) {
      if (e instanceof oidc.AuthorizationResponseError)
        throw new ServiceError('UNAUTHENTICATED', `the identity provider refused the sign-in (${e.error})`);
      if (e instanceof ServiceError) throw e;
      throw new ServiceError('UNAUTHENTICATED', `the sign-in could not be completed (${(e as Error).message})`);
    }
    if (!claims) throw new ServiceError('UNAUTHENTICATED', 'the identity provider sent no ID token');
    return {
      issuer: this.opts.accountIssuer ?? claims.iss,
      subject: claims.sub,
      identity: identityFromClaims(claims, this.opts.clock?.() ?? new Date()),
    };
  }
}

/**
 * The verified identity in an ID token: `id_type`, `id_number` and `name`, checked as
 * strictly as an application would be. A provider that sends none of them cannot be
 * used to apply for a code.
 */
export function identityFromClaims(claims: Record<string, unknown>, now: Date): VerifiedIdentity {
  const type = claims.id_type;
  const number = claims.id_number;
  const name = typeof claims.name === 'string' ? claims.name.normalize('NFC').trim() : '';
  if (typeof type !== 'string' || !(ID_TYPES as readonly string[]).includes(type) || typeof number !== 'string') {
    throw new ServiceError(
      'UNAUTHENTICATED',
      'the identity provider did not vouch for an identity document (id_type, id_number)',
    );
  }
  const id = validateIdentity(type, number, now);
  if (!id.ok)
    throw new ServiceError('UNAUTHENTICATED', `the identity provider sent an ID that does not check (${id.code})`);
  if (
    !name ||
    name.length > 64 ||
    /[\p{Cc}\p{Cs}\u200B-\u200F\u202A-\u202E\u2060\u2066-\u2069\uFEFF\u061C]/u.test(name)
  ) {
    throw new ServiceError('UNAUTHENTICATED', 'the identity provider sent no usable name');
  }
  return { idType: type as IdType, idNumber: id.normalized, name };
}
