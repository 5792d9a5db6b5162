export * from './errors';
export { encodeBase45, decodeBase45 } from './base45';
export { encodeCbor, decodeCbor, Tagged, type CborValue, type CborMap } from './cbor';
export { computeKid, sigStructure, protectedHeader, encodeSign1, decodeSign1, ALG_EDDSA, COSE_SIGN1_TAG } from './cose';
export * from './claims';
export * from './code';
export * from './lifetime';
export {
  checkPublicKey,
  createKeyVerifier,
  defaultBackend,
  isCanonicalScalar,
  type Backend,
  type KeyVerifier,
} from './ed25519';
export * from './trust-list';
export * from './status-list';
export * from './verify';
export { toBase64Url, fromBase64Url, toHex, fromHex } from './bytes';
export { parseRfc3339, toRfc3339 } from './time';
export * from './event';
export * from './merkle';
export * from './proof-bundle';
export * from './chain-trust';
export * from './subject-map';
export * from './witness';
export * from './witness';
