import { join } from 'node:path';
import { startServiceProcess, type ServiceProcess } from './service-process';

const ROOT = join(__dirname, '../..');
const ENTRY = join(ROOT, 'scripts/payment-provider.ts');

/** Settings of the stand-in provider (scripts/payment-provider.ts); ANKANG_URL and OPERATOR_KEYS are required. */
export interface PaymentProviderEnv {
  ANKANG_URL: string;
  OPERATOR_KEYS: string;
  ANKANG_FEED_TOKEN?: string;
  PROVIDER_ID?: string;
  ISSUER_ID?: string;
  DATA_FILE?: string;
  PORT?: string;
  TRUST_LIST_MIN_REFRESH_SECONDS?: string;
  TRUST_LIST_MAX_AGE_SECONDS?: string;
}

export type PaymentProviderProcess = ServiceProcess;

/** Settings of the parent's environment the provider must not inherit. */
const INHERITED = [
  'PORT',
  'HOST',
  'ANKANG_URL',
  'ANKANG_FEED_TOKEN',
  'PROVIDER_ID',
  'OPERATOR_KEYS',
  'ISSUER_ID',
  'DATA_FILE',
  'TRUST_LIST_MIN_REFRESH_SECONDS',
  'TRUST_LIST_MAX_AGE_SECONDS',
];

/**
 * Starts the stand-in payment provider as its own process (`node --import tsx
 * scripts/payment-provider.ts`, PORT=0 unless given) and resolves once it prints its ready
 * line. For the tests and the demo.
 */
export function startPaymentProvider(env: PaymentProviderEnv, timeoutMs = 60_000): Promise<PaymentProviderProcess> {
  return startServiceProcess({ PORT: '0', ...env } as Record<string, string>, ENTRY, timeoutMs, {
    ready: 'ready',
    strip: INHERITED,
    name: 'the payment provider',
  });
}
