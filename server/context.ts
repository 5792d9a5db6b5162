import type { Anchorer } from '../anchor/anchorer';
import type { Federation } from '../anchor/federation';
import type { WitnessRunner } from '../anchor/witness-runner';
import type { Config } from './config';
import type { RelyingParty } from './identity/relying-party';
import type { Secrets } from './crypto/secrets';
import type { Logger } from './http/log';
import type { Metrics } from './http/metrics';
import type { IssuerKeys } from './issuer/keys';
import type { StatusBook } from './issuer/status-book';
import type { TrustService } from './issuer/trust';
import type { Ledger } from '../ledger/ledger';
import type { RuleBook } from './services/rule-book';

/** Everything a request handler or background job may touch, wired once at start-up. */
export interface AppContext {
  config: Config;
  ledger: Ledger;
  secrets: Secrets;
  keys: IssuerKeys;
  statusBook: StatusBook;
  rules: RuleBook;
  metrics: Metrics;
  log: Logger;
  clock: () => Date;
  /** Issuer display name (from ISSUER_NAME or the region dataset). */
  issuerName: string;
  trust: TrustService;
  /** Present when a chain is configured (CHAIN_RPC_URL). */
  anchorer?: Anchorer;
  /** Present when a chain is configured: other provinces' keys and status lists. */
  federation?: Federation;
  /** Present when WITNESS_FOR names issuers to witness (and a chain is configured). */
  witness?: WitnessRunner;
  /** Sends one-time codes: the development outbox file, or SMS_GATEWAY_URL. */
  sms: SmsSender;
  /** The OpenID Connect relying party; set once the service knows the address it listens on. */
  signIn?: RelyingParty;
  /** Set when a stop began: /readyz answers 503 while in-flight requests finish. */
  stopping?: boolean;
}

/** Where one-time codes go (server/identity/sms.ts). */
export interface SmsSender {
  send(msg: { to: string; purpose: string; code: string }): Promise<void>;
}
