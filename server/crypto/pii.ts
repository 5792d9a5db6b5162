import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { randomBytesPooled as randomBytes } from '../../ledger/random';

/**
 * The pseudonym that codes, events and the chain know a person by: HMAC-SHA-256 of the
 * ID type and normalised number under the issuer's secret, first 12 bytes, base64url.
 */
export function pseudonymFor(key: Buffer, idType: string, idNumber: string): string {
  return createHmac('sha256', key).update(`${idType}:${idNumber}`).digest().subarray(0, 12).toString('base64url');
}

/**
 * AES-256-GCM with a random 96-bit IV. The additional data (the record's pseudonym) binds
 * a ciphertext to its record, so one resident's fields cannot be pasted into another's.
 */
export function sealField(key: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), ct.toString('base64url'), cipher.getAuthTag().toString('base64url')].join(
    '.',
  );
}

/** @throws Error when the ciphertext, key or additional data do not match */
export function openField(key: Buffer, sealed: string, aad: string): string {
  const [v, iv, ct, tag] = sealed.split('.');
  if (v !== 'v1' || !iv || ct === undefined || !tag) throw new Error('not a sealed field');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
}
