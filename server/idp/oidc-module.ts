import type { IncomingMessage, ServerResponse } from 'node:http';
import type Koa from 'koa';

/**
 * The slice of oidc-provider 9 this service uses, typed here (the package ships no types
 * and @types/oidc-provider is not a dependency), and the one place it is loaded.
 */

export interface OidcInteraction {
  uid: string;
  prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
  params: Record<string, unknown>;
  returnTo: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export interface OidcGrant {
  jti: string;
  accountId: string;
  clientId: string;
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  save(ttl?: number): Promise<string>;
}

export interface OidcContext {
  client?: { clientId: string };
  session: { accountId?: string; grantIdFor(clientId: string): string | undefined };
  account?: { accountId: string };
  result?: { login?: { accountId: string } };
  requestParamOIDCScopes: Set<string>;
  requestParamClaims: Set<string>;
  provider: OidcProvider;
}

export type OidcKoaContext = Koa.Context & { oidc: OidcContext };

export interface OidcAccount {
  accountId: string;
  claims(use: string, scope: string): Promise<Record<string, unknown>> | Record<string, unknown>;
}

export interface OidcProvider extends Koa {
  issuer: string;
  Grant: {
    new (init: { accountId: string; clientId: string }): OidcGrant;
    find(id: string): Promise<OidcGrant | undefined>;
  };
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<OidcInteraction>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    opts?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
}

export interface OidcCheck {
  reason: string;
}

export interface OidcPrompt {
  name: string;
  checks: OidcCheck[] & { add(check: OidcCheck, index?: number): void };
}

export interface OidcModule {
  Provider: new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;
  errors: { SessionNotFound: new (...args: unknown[]) => Error };
  interactionPolicy: {
    Check: {
      new (reason: string, description: string, check: (ctx: OidcKoaContext) => unknown): OidcCheck;
      REQUEST_PROMPT: true;
      NO_NEED_TO_PROMPT: false;
    };
    base(): OidcPrompt[] & { get(name: string): OidcPrompt | undefined };
  };
}

const RUNTIME_WARNING = 'oidc-provider WARNING: Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release.';

let loaded: OidcModule | undefined;

/**
 * `require('oidc-provider')` (ESM, which Node ≥ 20.19 loads through require). On Node 20
 * the package prints a warning that it is an unsupported runtime when it loads; this
 * service logs JSON lines and runs fine on 20.20, so exactly that console.warn is dropped
 * and any other passes through.
 */
export function loadOidcProvider(): OidcModule {
  if (loaded) return loaded;
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    // On a terminal the package wraps its warning in colour codes.
    if (args.length === 1 && typeof args[0] === 'string' && args[0].replace(/\x1b\[[0-9;]*m/g, '') === RUNTIME_WARNING)
      return;
    warn.apply(console, args);
  };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, while its start-up warning is filtered
    loaded = require('oidc-provider') as OidcModule;
  } finally {
    console.warn = warn;
  }
  return loaded;
}
