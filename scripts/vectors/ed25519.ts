/**
 * Writes test/verifier/vectors/ed25519-strict.json: the RFC 8032 §7.1 vectors plus the
 * malleability cases every Ed25519 backend must agree on. Run: npx tsx scripts/vectors/ed25519.ts
 */
import { Point } from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const le = (n: bigint) => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
};
const leToBig = (b: Uint8Array) => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
const H = (...parts: Uint8Array[]) => leToBig(sha512(Buffer.concat(parts))) % L;

// A raw (scalar, nonce) signer, so cases the normal API cannot produce can be built.
function signRaw(a: bigint, r: bigint, msg: Uint8Array, torsion?: Point) {
  const A = Point.BASE.multiply(a).toBytes();
  let R = Point.BASE.multiply(r);
  if (torsion) R = R.add(torsion);
  const Rb = R.toBytes();
  const k = H(Rb, A, msg);
  const S = (r + k * a) % L;
  return { publicKey: A, signature: Buffer.concat([Rb, le(S)]) };
}

const cases: Array<{ name: string; publicKey: string; message: string; signature: string; valid: boolean; note?: string }> = [
  {
    name: 'RFC 8032 7.1 TEST 1',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    valid: true,
  },
  {
    name: 'RFC 8032 7.1 TEST 2',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    valid: true,
  },
  {
    name: 'RFC 8032 7.1 TEST 3',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
    valid: true,
  },
];

const t3 = cases[2];
const sig3 = Buffer.from(t3.signature, 'hex');
const sPlusL = le(leToBig(sig3.subarray(32)) + L);
cases.push({ ...t3, name: 'TEST 3 with S + L (malleated)', signature: hex(Buffer.concat([sig3.subarray(0, 32), sPlusL])), valid: false });
cases.push({ ...t3, name: 'TEST 3 with a bit of the message flipped', message: 'af83', valid: false });
cases.push({ ...t3, name: 'TEST 3 with a bit of R flipped', signature: hex(Buffer.concat([Buffer.from([sig3[0] ^ 1]), sig3.subarray(1)])), valid: false });
cases.push({
  ...t3,
  name: 'TEST 3 with S = L - 1 + 1 = L exactly',
  signature: hex(Buffer.concat([sig3.subarray(0, 32), le(L)])),
  valid: false,
});

// R replaced by a non-canonical encoding (y >= p) of a point: the y = 1 identity as p + 1.
const nonCanonicalIdentity = le(2n ** 255n - 19n + 1n);
cases.push({ ...t3, name: 'non-canonical R (identity encoded as p + 1)', signature: hex(Buffer.concat([nonCanonicalIdentity, sig3.subarray(32)])), valid: false });

// A mixed-order R (honest R plus a point of order 8): cofactored verifiers accept it,
// cofactorless ones (all of ours) must not.
const order8 = Point.fromBytes(Buffer.from('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', 'hex'));
if (!order8.multiply(8n, false).is0() || order8.multiply(4n, false).is0()) throw new Error('not a point of order 8');
const msg = Buffer.from('ankang mixed-order R');
const a = H(Buffer.from('ankang vector scalar'));
const r = H(Buffer.from('ankang vector nonce'));
const honest = signRaw(a, r, msg);
cases.push({ name: 'honest signature from a raw scalar (control)', publicKey: hex(honest.publicKey), message: hex(msg), signature: hex(honest.signature), valid: true });
const mixed = signRaw(a, r, msg, order8);
cases.push({
  name: 'mixed-order R (R + T8), valid only under the cofactored equation',
  publicKey: hex(mixed.publicKey),
  message: hex(msg),
  signature: hex(mixed.signature),
  valid: false,
});

const out = join(__dirname, '../../test/verifier/vectors/ed25519-strict.json');
writeFileSync(out, JSON.stringify({ description: 'Ed25519 (RFC 8032) as Ankang accepts it: S < L, canonical R and A, cofactorless equation', cases }, null, 2) + '\n');
console.log(`wrote ${cases.length} cases to ${out}`);
