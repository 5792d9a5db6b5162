type NodeCrypto = typeof import('node:crypto');

/**
 * node:crypto when running under Node (OpenSSL: several times faster than pure JS for
 * SHA-256 and Ed25519), undefined in browsers. Loaded lazily inside try/catch so the
 * browser bundle, which marks node:crypto external, falls back cleanly.
 */
export const nodeCrypto: NodeCrypto | undefined = (() => {
  try {
    if (typeof process === 'undefined' || !process.versions?.node) return undefined;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('node:crypto') as NodeCrypto;
  } catch {
    return undefined;
  }
})();
