import { z } from 'zod';
import { DEFAULT_LIMITS, type IdpLimits } from './limits';

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

/** Settings of the standalone provider (`npm run idp`), from the environment. */
export const idpConfigSchema = z.object({
  IDP_PORT: int(8090, 0, 65535),
  IDP_HOST: z.string().min(1).default('127.0.0.1'),
  IDP_DATA_DIR: z.string().min(1).default('./data-idp'),
  /** Default `http://IDP_HOST:<port>`; a path in it (e.g. `/idp`) is where the provider answers. */
  IDP_ISSUER: z.string().url().optional(),
  IDP_CLIENT_ID: z.string().min(1).default('ankang'),
  IDP_CLIENT_SECRET: z.string().min(16, 'at least 16 characters'),
  /** Comma-separated redirect URIs of the client. */
  IDP_REDIRECT_URIS: z
    .string()
    .min(1)
    .transform((s) =>
      s
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().url()).min(1)),
  /** Trust X-Forwarded-* headers from a TLS-terminating proxy. */
  IDP_TRUST_PROXY: z.stringbool().default(false),
  IDP_LIMIT_WINDOW_SECONDS: int(DEFAULT_LIMITS.windowSeconds, 1, 86_400),
  IDP_SENDS_PER_PHONE: int(DEFAULT_LIMITS.sendsPerPhone, 1, 1_000_000),
  IDP_SENDS_PER_ADDRESS: int(DEFAULT_LIMITS.sendsPerAddress, 1, 1_000_000),
  IDP_CHECKS_PER_ADDRESS: int(DEFAULT_LIMITS.checksPerAddress, 1, 1_000_000),
  IDP_SIGNUPS_PER_ADDRESS: int(DEFAULT_LIMITS.signupsPerAddress, 1, 1_000_000),
  /** Production: texts go to this gateway. Development: to SMS_OUTBOX. */
  SMS_GATEWAY_URL: z.string().url().optional(),
  SMS_GATEWAY_TIMEOUT_MS: int(5000, 100, 60_000),
  /** Default `<IDP_DATA_DIR>/sms-outbox.jsonl`. */
  SMS_OUTBOX: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

export type IdpConfig = z.infer<typeof idpConfigSchema>;

/** Parses the environment; a bad value stops start-up with every problem named. */
export function loadIdpConfig(env: NodeJS.ProcessEnv = process.env): IdpConfig {
  const parsed = idpConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** The abuse limits a configuration sets. */
export function limitsOf(config: IdpConfig): IdpLimits {
  return {
    windowSeconds: config.IDP_LIMIT_WINDOW_SECONDS,
    sendsPerPhone: config.IDP_SENDS_PER_PHONE,
    sendsPerAddress: config.IDP_SENDS_PER_ADDRESS,
    checksPerAddress: config.IDP_CHECKS_PER_ADDRESS,
    signupsPerAddress: config.IDP_SIGNUPS_PER_ADDRESS,
  };
}
