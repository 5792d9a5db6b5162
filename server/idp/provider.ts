import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { ensureDataDir } from '../crypto/secrets';
import { createLogger, type Logger } from '../http/log';
import type { SmsSender } from '../identity/sms';
import { AccountStore, type Account } from './accounts';
import { interactionPages } from './interactions';
import { loadCookieKeys, loadIdpSecrets, loadSigningKeys } from './keys';
import { Limits, type IdpLimits } from './limits';
import { createMemoryAdapter } from './memory-adapter';
import { loadOidcProvider, type OidcAccount, type OidcKoaContext } from './oidc-module';
import { pageHeaders, renderErrorPage } from './pages';

export { identityProviderMiddleware, mountIdentityProvider, type IdentityProviderRef } from './mount';
export type { IdpLimits } from './limits';

/**
 * The embedded OpenID Connect provider: the development stand-in for the province's
 * real-name account platform. Authorization code flow with PKCE (S256) only, confidential
 * clients (`client_secret_basic`), first-party (no consent screen), EdDSA (Ed25519) ID
 * tokens that carry the phone and identity claims themselves. Sign-in is a phone number
 * and a texted code; the first sign-in registers an ID (interactions.ts).
 *
 * oidc-provider's own short-lived artifacts (interactions, sessions, grants, codes, access
 * tokens) stay in memory (memory-adapter.ts): all of them expire within half an hour, and a
 * restart only means signing in again. Accounts and keys live in `dataDir`.
 */

export interface IdentityProviderClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

export interface IdentityProviderOptions {
  /** The issuer identifier, e.g. `<PUBLIC_URL>/idp`; its path is where the provider is mounted. */
  issuer: string;
  /** Keys, secrets and the accounts database (created 0700). Not the service's DATA_DIR itself. */
  dataDir: string;
  /** Where the keys and secrets live instead, when not in `dataDir` (the service's SECRETS_DIR/idp). */
  secretsDir?: string;
  clients: IdentityProviderClient[];
  sms: SmsSender;
  log?: Logger;
  /** Times one-time codes and ID birth-date checks (default real time); tokens use real time. */
  clock?: () => Date;
  /** Abuse limits; each missing field takes its default (limits.ts). */
  limits?: Partial<IdpLimits>;
  /** Trust X-Forwarded-Proto/-Host/-For from a TLS-terminating proxy (default false). */
  proxy?: boolean;
}

export interface IdentityProvider {
  /** The issuer identifier, without a trailing slash. */
  readonly issuer: string;
  /** The issuer's path ('' or e.g. '/idp'): the prefix to mount at. */
  readonly mountPath: string;
  /** A Node request handler for requests with the prefix already stripped (see mount.ts). */
  callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** Closes the accounts database and stops the timers. */
  close(): Promise<void>;
}

/** The claims each scope releases; all of them go into the ID token. */
export const SCOPE_CLAIMS = {
  openid: ['sub'],
  phone: ['phone_number', 'phone_number_verified'],
  identity: ['name', 'id_type', 'id_number'],
} as const;

/** OpenID Connect recommends E.164 for phone_number: mainland numbers get their +86. */
export function e164(phone: string): string {
  return phone.startsWith('+') ? phone : `+86${phone}`;
}

function claimsOf(account: Account & { identity: NonNullable<Account['identity']> }): Record<string, unknown> {
  return {
    sub: account.sub,
    phone_number: e164(account.phone),
    phone_number_verified: true,
    name: account.identity.name,
    id_type: account.identity.idType,
    id_number: account.identity.idNumber,
  };
}

/**
 * Opens (creating at first start) the provider's keys and accounts in `opts.dataDir` and
 * builds the provider. Mount it with `mountIdentityProvider(koa, idp.mountPath, idp)`.
 */
export async function createIdentityProvider(opts: IdentityProviderOptions): Promise<IdentityProvider> {
  const issuer = opts.issuer.replace(/\/+$/, '');
  const mountPath = new URL(issuer).pathname.replace(/\/+$/, '');
  const log = opts.log ?? createLogger('info');
  const clock = opts.clock ?? (() => new Date());
  ensureDataDir(opts.dataDir);
  const keyDir = opts.secretsDir ?? opts.dataDir;
  const secrets = loadIdpSecrets(keyDir);
  const signingKeys = loadSigningKeys(keyDir);
  const cookieKeys = loadCookieKeys(keyDir);
  const accounts = await AccountStore.open(join(opts.dataDir, 'accounts'), secrets, clock);
  const oidc = loadOidcProvider();
  const { Check } = oidc.interactionPolicy;
  const clientOrigins = [...new Set(opts.clients.flatMap((c) => c.redirect_uris.map((u) => new URL(u).origin)))];

  const policy = oidc.interactionPolicy.base();
  // Every authorization signs in afresh: a shared phone must not hand the next person the
  // last one's account, and an account whose ID moved away must sign up again.
  policy
    .get('login')!
    .checks.add(
      new Check('fresh_sign_in', 'each authorization signs in afresh', (ctx) =>
        ctx.oidc.result?.login ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT,
      ),
    );

  const provider = new oidc.Provider(issuer, {
    clients: opts.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      // Not form_post: its page submits itself with an inline script.
      response_modes: ['query'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'EdDSA',
    })),
    adapter: createMemoryAdapter(),
    clientAuthMethods: ['client_secret_basic'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    scopes: Object.keys(SCOPE_CLAIMS),
    claims: { auth_time: null, ...SCOPE_CLAIMS },
    // The relying party reads phone and identity from the ID token, not from userinfo.
    conformIdTokenClaims: false,
    enabledJWA: { idTokenSigningAlgValues: ['EdDSA'], userinfoSigningAlgValues: ['EdDSA'] },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      revocation: { enabled: false },
      introspection: { enabled: false },
      userinfo: { enabled: true },
    },
    jwks: { keys: signingKeys },
    // Mounted inside the service, the provider shares its origin: its cookies get names of
    // their own and stay under the mount path.
    cookies: {
      keys: cookieKeys,
      names: { session: 'idp_session', interaction: 'idp_interaction', resume: 'idp_interaction_resume' },
      long: { httpOnly: true, sameSite: 'lax', path: mountPath || '/' },
    },
    ttl: { AuthorizationCode: 60, AccessToken: 600, IdToken: 600, Interaction: 1800, Session: 1800, Grant: 1800 },
    issueRefreshToken: async () => false,
    async findAccount(_ctx: unknown, sub: string): Promise<OidcAccount | undefined> {
      const account = await accounts.findBySub(sub);
      // An account whose ID moved to another has nothing to assert until it signs up again.
      if (!account?.identity) return undefined;
      const claims = claimsOf(account as Account & { identity: NonNullable<Account['identity']> });
      return { accountId: sub, claims: () => claims };
    },
    // First-party clients only: whatever OIDC scopes and claims a configured client asks
    // for are granted without a consent screen.
    async loadExistingGrant(ctx: OidcKoaContext) {
      const { oidc: o } = ctx;
      const clientId = o.client!.clientId;
      const accountId = o.account!.accountId;
      const known = o.session.grantIdFor(clientId);
      let grant = known ? await o.provider.Grant.find(known) : undefined;
      if (grant && grant.accountId !== accountId) grant = undefined;
      grant ??= new o.provider.Grant({ accountId, clientId });
      grant.addOIDCScope([...o.requestParamOIDCScopes].join(' '));
      if (o.requestParamClaims.size) grant.addOIDCClaims([...o.requestParamClaims]);
      await grant.save();
      return grant;
    },
    interactions: {
      url: async (_ctx: unknown, interaction: { uid: string }) => `${mountPath}/interaction/${interaction.uid}`,
      policy,
    },
    async renderError(ctx: OidcKoaContext, out: { error?: string; error_description?: string }) {
      ctx.set(pageHeaders(clientOrigins));
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = renderErrorPage({
        code: out.error ?? 'server_error',
        message: out.error_description ?? out.error ?? 'error',
      });
    },
  });
  provider.proxy = opts.proxy ?? false;
  provider.on('server_error', (_ctx: unknown, err: Error) =>
    log.error('idp: server error', { error: err.stack ?? String(err) }),
  );
  // Koa reports errors outside oidc-provider's handlers here; without a listener it would
  // print them to stderr rather than to the JSON log.
  provider.on('error', (err: Error & { expose?: boolean }) => {
    if (!err.expose) log.error('idp: request failed', { error: err.stack ?? String(err) });
  });

  const pages = interactionPages({
    oidc,
    provider,
    accounts,
    sms: opts.sms,
    limits: new Limits(opts.limits),
    codeKey: secrets.codeKey,
    clock,
    log,
    mountPath,
    clientOrigins,
  });
  provider.use(pages.middleware);
  const handler = provider.callback() as (req: IncomingMessage, res: ServerResponse) => Promise<void>;

  return {
    issuer,
    mountPath,
    callback: () => handler,
    async close() {
      pages.close();
      await accounts.close();
    },
  };
}
