import { z } from 'zod';
import { MAX_CODE_LIFETIME_SECONDS } from '../verifier/src/lifetime';
import { parseWitnessFor } from '../anchor/witness-runner';
import { parseFederationPeers } from './services/federation-peers';
import { usableCores } from './cluster/cores';
import { parseNetworks } from './http/address';

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);
/** A code lifetime, refused above the cap every verifier enforces for its kind (FORMAT.md §4.3). */
const lifetime = (def: number, capSeconds: number, unitSeconds: number, unit: string) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(
      capSeconds / unitSeconds,
      `at most ${capSeconds / unitSeconds} ${unit}: verifiers refuse longer-lived codes (LIFETIME_TOO_LONG, FORMAT.md §4.3)`,
    )
    .default(def);

/** A list of other issuers' services with their tokens (WITNESS_FOR, FEDERATION_PEERS); a bad entry is a config error naming it. */
const issuerTokens = <T>(parse: (value: string) => T[]) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      try {
        return v ? parse(v) : [];
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    });

/**
 * Every setting comes from the environment (README "Configuration" lists them).
 * Secrets that are absent are generated at first start into SECRETS_DIR (default DATA_DIR; mode 0600).
 */
export const configSchema = z
  .object({
    PORT: int(8080, 0, 65535),
    HOST: z.string().min(1).default('127.0.0.1'),
    DATA_DIR: z.string().min(1).default('./data'),
    /**
     * Where secrets.json, the signing keys (keys/) and the embedded provider's keys (idp/) live;
     * default DATA_DIR. In production a volume of its own, so a copy of the data is not a copy of its keys.
     */
    SECRETS_DIR: z.string().min(1).optional(),
    ISSUER_ID: z
      .string()
      .regex(/^[1-9][0-9]{5}$/, 'a 6-digit GB/T 2260 region code')
      .default('340000'),
    ISSUER_NAME: z.string().min(1).optional(),
    /** Base URL others reach this service at; names the status list in the trust list. */
    PUBLIC_URL: z.string().url().optional(),
    ADMIN_TOKEN: z.string().min(16).optional(),
    /** Code lifetimes stay within FORMAT.md §4.3's caps, which every verifier enforces (LIFETIME_TOO_LONG). */
    CODE_TTL_MINUTES: lifetime(10, MAX_CODE_LIFETIME_SECONDS.dynamic, 60, 'minutes'),
    PRINTED_CODE_TTL_DAYS: lifetime(7, MAX_CODE_LIFETIME_SECONDS.printed, 86_400, 'days'),
    CODE_REFRESH_MARGIN_SECONDS: int(120, 0, 3600),
    /** Venue codes are printed and posted at gates: they live long (at most the cap, 366 days). */
    VENUE_CODE_TTL_DAYS: lifetime(365, MAX_CODE_LIFETIME_SECONDS.venue, 86_400, 'days'),
    /** Scanning the same venue again within this window returns the first decision. */
    CHECKIN_REPLAY_SECONDS: int(60, 0, 3600),
    /** The status list is re-signed at least this often, so verifiers always find a fresh one. */
    STATUS_LIST_MAX_AGE_SECONDS: int(300, 1, 900),
    REVIEW_INTERVAL_SECONDS: int(30, 1, 3600),
    /** How long an Idempotency-Key answers retries with its first response; older keys count as unused and are deleted. */
    IDEMPOTENCY_TTL_HOURS: int(24, 1, 720),
    /**
     * Scan events, check-ins and health facts older than this many days are erased (the ledger keeps
     * each erased event's hash, so proofs of the others still verify); aggregates outlive it.
     */
    RETENTION_DAYS: int(28, 1, 3650),
    BODY_LIMIT_BYTES: int(65536, 1024, 10 * 1024 * 1024),
    /**
     * HTTP worker processes in front of one ledger writer (server/cluster/); by default one per
     * core this process may run on, capped by its cgroup's CPU quota (a container's `--cpus`).
     * 0: one process serves HTTP and writes the ledger.
     * `npm run serve` only; npm start runs one process.
     */
    WORKERS: int(Math.min(usableCores(), 64), 0, 64),
    /**
     * The province's OpenID Connect provider (real-name account platform). Unset: the
     * embedded development provider at PUBLIC_URL/idp, with codes in DATA_DIR/sms-outbox.jsonl.
     */
    OIDC_ISSUER: z.string().url().optional(),
    OIDC_CLIENT_ID: z.string().min(1).optional(),
    OIDC_CLIENT_SECRET: z.string().min(16).optional(),
    /** Production: one-time codes (re-binding a record, the embedded provider's logins) are POSTed here. */
    SMS_GATEWAY_URL: z.string().url().optional(),
    /** The embedded provider's abuse limits, per 10 minutes (server/idp/limits.ts). */
    IDP_SENDS_PER_PHONE: int(5, 1, 1_000_000),
    IDP_SENDS_PER_ADDRESS: int(60, 1, 1_000_000),
    IDP_CHECKS_PER_ADDRESS: int(100, 1, 1_000_000),
    IDP_SIGNUPS_PER_ADDRESS: int(20, 1, 1_000_000),
    /** Life of a resident's access token; a refresh token buys a new one until the session ends. */
    SESSION_ACCESS_MINUTES: int(15, 1, 43_200),
    /** Life of a resident session from sign-in; then the resident signs in again. */
    SESSION_DAYS: int(30, 1, 365),
    /** Default life of an authority token created by the admin (each may ask for its own, up to a year). */
    STAFF_TOKEN_TTL_DAYS: int(30, 1, 365),
    /** Honour X-Forwarded-For (set by a reverse proxy in front); otherwise the socket's address is the client's. */
    TRUST_PROXY: z.stringbool().default(false),
    /** How many trusted proxies append to X-Forwarded-For; the client is the entry the outermost one added. */
    TRUST_PROXY_HOPS: int(1, 1, 10),
    /**
     * Who may read /metrics: client addresses and CIDR networks, comma-separated (as TRUST_PROXY
     * decides the address). By default this host only; a Prometheus elsewhere is named here.
     */
    METRICS_ALLOW: z
      .string()
      .default('127.0.0.0/8,::1')
      .transform((v, ctx) => {
        try {
          return parseNetworks(v);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
          return z.NEVER;
        }
      }),
    /** Slow clients: whole headers, and the whole request, must arrive within these; idle keep-alive sockets close after KEEP_ALIVE_TIMEOUT_MS. */
    HEADERS_TIMEOUT_MS: int(10_000, 1000, 120_000),
    REQUEST_TIMEOUT_MS: int(30_000, 1000, 600_000),
    KEEP_ALIVE_TIMEOUT_MS: int(5000, 100, 120_000),
    /** How often Node looks for connections past those timeouts, so a timeout is enforced up to this late. */
    CONNECTIONS_CHECKING_INTERVAL_MS: int(1000, 100, 60_000),
    /** Greedy clients: open sockets in total, and per client address (an IPv6 /64 counts as one address). */
    MAX_CONNECTIONS: int(10_000, 1, 1_000_000),
    MAX_CONNECTIONS_PER_ADDRESS: int(1000, 1, 1_000_000),
    /** Abuse limits (server/http/rate-limit.ts): requests per window, per client address or per resident. */
    RATE_APPLY_PER_ADDRESS: int(600, 1, 1_000_000),
    RATE_APPLY_PER_ADDRESS_SECONDS: int(60, 1, 604_800),
    RATE_APPLY_PER_RESIDENT: int(10, 1, 1_000_000),
    RATE_APPLY_PER_RESIDENT_SECONDS: int(3600, 1, 604_800),
    RATE_CHECKIN_PER_ADDRESS: int(3000, 1, 1_000_000),
    RATE_CHECKIN_PER_ADDRESS_SECONDS: int(60, 1, 604_800),
    RATE_CHECKIN_PER_RESIDENT: int(20, 1, 1_000_000),
    RATE_CHECKIN_PER_RESIDENT_SECONDS: int(60, 1, 604_800),
    RATE_APPEAL_PER_RESIDENT: int(10, 1, 1_000_000),
    RATE_APPEAL_PER_RESIDENT_SECONDS: int(86_400, 1, 604_800),
    RATE_SIGNIN_PER_ADDRESS: int(300, 1, 1_000_000),
    RATE_SIGNIN_PER_ADDRESS_SECONDS: int(60, 1, 604_800),
    RATE_OTP_PER_ADDRESS: int(100, 1, 1_000_000),
    RATE_OTP_PER_ADDRESS_SECONDS: int(600, 1, 604_800),
    RATE_OTP_PER_RESIDENT: int(5, 1, 1_000_000),
    RATE_OTP_PER_RESIDENT_SECONDS: int(900, 1, 604_800),
    RATE_UNKNOWN_TOKEN_PER_ADDRESS: int(600, 1, 1_000_000),
    RATE_UNKNOWN_TOKEN_PER_ADDRESS_SECONDS: int(60, 1, 604_800),
    RATE_REFRESH_PER_ADDRESS: int(3000, 1, 1_000_000),
    RATE_REFRESH_PER_ADDRESS_SECONDS: int(60, 1, 604_800),
    RATE_FEDERATION_PER_TOKEN: int(120, 1, 1_000_000),
    RATE_FEDERATION_PER_TOKEN_SECONDS: int(60, 1, 604_800),
    RATE_LINK_REQUEST_PER_RESIDENT: int(10, 1, 1_000_000),
    RATE_LINK_REQUEST_PER_RESIDENT_SECONDS: int(3600, 1, 604_800),
    RATE_LINK_CHANGE_PER_RESIDENT: int(60, 1, 1_000_000),
    RATE_LINK_CHANGE_PER_RESIDENT_SECONDS: int(3600, 1, 604_800),
    RATE_SECTOR_PER_TOKEN: int(6000, 1, 1_000_000),
    RATE_SECTOR_PER_TOKEN_SECONDS: int(60, 1, 604_800),
    RATE_LOG_PER_TOKEN: int(600, 1, 1_000_000),
    RATE_LOG_PER_TOKEN_SECONDS: int(60, 1, 604_800),
    RATE_RESOLVE_PER_TOKEN: int(600, 1, 1_000_000),
    RATE_RESOLVE_PER_TOKEN_SECONDS: int(60, 1, 604_800),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
    /** JSON-RPC URL of the permissioned EVM chain; anchoring is off without it. */
    CHAIN_RPC_URL: z.string().url().optional(),
    /** AnchorRegistry address (required in production; remembered in DATA_DIR/chain.json in development). */
    ANCHOR_CONTRACT: z
      .string()
      .regex(/^0x[0-9a-fA-F]{40}$/, 'a 0x-prefixed contract address')
      .optional(),
    /** File with the anchorer's private key (production). */
    ANCHOR_KEY_FILE: z.string().min(1).optional(),
    /** Development chain: deploy and register with the node's own accounts. npm start sets it. */
    CHAIN_DEV: z.stringbool().default(false),
    /** Which node-managed account anchors on a development chain (several issuers share one node). */
    CHAIN_DEV_ANCHORER_ACCOUNT: int(1, 1, 19),
    /** How often the trust list of other provinces and their status lists are refreshed from the chain. */
    FEDERATION_REFRESH_SECONDS: int(60, 1, 3600),
    CHECKPOINT_INTERVAL_SECONDS: int(15, 1, 86400),
    CHECKPOINT_MAX_EVENTS: int(1000, 1, 10_000_000),
    /** How many of the latest subject map commits (one per checkpoint) keep their proofs; 0 keeps every one. Every root is kept. */
    SUBJECT_MAP_KEEP: int(1000, 0, 100_000_000),
    /**
     * Other issuers this service witnesses (FORMAT.md §13.3), each with the witness token it issued
     * us: `320000=<token>,310000=<token>`; `…=<token>@<url>` where its service is not its status
     * list URL's origin. It cosigns from its anchorer account, which the council registers as a witness.
     */
    WITNESS_FOR: issuerTokens(parseWitnessFor),
    /**
     * Other provinces whose services tracing asks for the scans they recorded under our codes
     * (POST /v1/federation/scans), each with the federation token it issued us:
     * `320000=<token>@<url>`; without `@<url>`, its status list URL's origin.
     */
    FEDERATION_PEERS: issuerTokens(parseFederationPeers),
    /** How often the witness looks for other issuers' new checkpoints. */
    WITNESS_INTERVAL_SECONDS: int(5, 1, 3600),
    /** /readyz: with the chain unreachable, the service stays ready until an unanchored event is older than this. */
    READY_MAX_ANCHOR_LAG_SECONDS: int(300, 1, 604_800),
    /** On SIGTERM/SIGINT, in-flight requests get this long to finish before their sockets are closed. */
    DRAIN_TIMEOUT_MS: int(10_000, 0, 600_000),
    /** npm start: the port of the embedded Hardhat node (0: a free one). Refused at start when something else listens there. */
    CHAIN_PORT: int(8545, 0, 65535),
    /** Reconnecting to a chain that is down: the first delay, doubling with jitter up to CHAIN_RETRY_MAX_MS. */
    CHAIN_RETRY_MIN_MS: int(1000, 1, 3_600_000),
    CHAIN_RETRY_MAX_MS: int(60_000, 1, 3_600_000),
  })
  .refine((c) => c.HEADERS_TIMEOUT_MS <= c.REQUEST_TIMEOUT_MS, {
    path: ['HEADERS_TIMEOUT_MS'],
    message: 'at most REQUEST_TIMEOUT_MS (the headers are part of the request)',
  })
  .refine((c) => !c.WITNESS_FOR.some((t) => t.issuer === c.ISSUER_ID), {
    path: ['WITNESS_FOR'],
    message: 'an issuer cannot witness itself: leave ISSUER_ID out',
  })
  .refine((c) => !c.FEDERATION_PEERS.some((t) => t.issuer === c.ISSUER_ID), {
    path: ['FEDERATION_PEERS'],
    message: 'a province does not ask itself: leave ISSUER_ID out',
  })
  .refine((c) => !c.WITNESS_FOR.length || c.CHAIN_RPC_URL, {
    path: ['WITNESS_FOR'],
    message: 'witnessing needs a chain (CHAIN_RPC_URL): cosignatures go on chain',
  })
  .refine((c) => c.CHAIN_RETRY_MIN_MS <= c.CHAIN_RETRY_MAX_MS, {
    path: ['CHAIN_RETRY_MIN_MS'],
    message: 'at most CHAIN_RETRY_MAX_MS',
  });

export type Config = z.infer<typeof configSchema>;

/** Parses the environment; a bad value stops start-up with every problem named. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** The base URL others reach this service at. */
export function publicUrl(config: Config): string {
  return (config.PUBLIC_URL ?? `http://${config.HOST}:${config.PORT}`).replace(/\/$/, '');
}
