/**
 * Writes verifier/vectors/codes.json, the conformance vectors other implementers run:
 * a trust list, a fixed `now`, and one or more cases per result code. Keys are derived
 * from fixed labels so the file is reproducible; no private key is written anywhere.
 * Run: npx tsx scripts/vectors/codes.ts
 */
import crypto from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CODE_PREFIX,
  RESIDENT_SUB_CUTOVER,
  Tagged,
  computeKid,
  decodeBase45,
  decodeCbor,
  encodeBase45,
  encodeCbor,
  encodeClaims,
  encodeSign1,
  protectedHeader,
  sigStructure,
  signCode,
  signStatusList,
  toBase64Url,
  toRfc3339,
  trustListKey,
  type CborValue,
  type CodeClaims,
  type Signer,
} from '../../verifier/src';

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

function keyFromLabel(label: string) {
  const seed = crypto.createHash('sha256').update(`ankang test vector key: ${label}`).digest();
  const privateKey = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = new Uint8Array(crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(12));
  const signer: Signer = { kid: computeKid(publicKey), sign: (m) => new Uint8Array(crypto.sign(null, m, privateKey)) };
  return { publicKey, signer };
}

const NOW = Date.parse('2026-11-28T04:00:00Z') / 1000;
const HOUR = 3600;
const anhui = keyFromLabel('340000 key 1');
const anhuiLate = keyFromLabel('340000 key 2');
const anhuiUnlisted = keyFromLabel('340000 unlisted');
const anhuiRevoked = keyFromLabel('340000 revoked');
const jiangsu = keyFromLabel('320000 not trusted');

const trustList = {
  format: 'ankang-trust-list/1',
  issuedAt: toRfc3339(NOW - 4 * HOUR),
  issuers: [
    {
      id: '340000',
      name: '安徽省',
      keys: [
        trustListKey(anhui.publicKey, '2026-01-01T00:00:00Z', '2027-12-31T23:59:59Z'),
        trustListKey(anhuiLate.publicKey, '2026-11-01T00:00:00Z', '2027-12-31T23:59:59Z'),
      ],
      revokedKeys: [{ kid: toBase64Url(anhuiRevoked.signer.kid), revokedAt: toRfc3339(NOW - 2 * HOUR) }],
    },
  ],
};

let counter = 0;
function resident(over: Partial<CodeClaims> & { health?: Partial<Extract<CodeClaims, { kind: 'resident' }>['health']> } = {}): CodeClaims {
  counter++;
  const base = {
    kind: 'resident' as const,
    iss: '340000',
    iat: NOW - 120,
    exp: NOW - 120 + 600,
    cti: crypto.createHash('sha256').update(`cti ${counter}`).digest().subarray(0, 8).toString('hex'),
  };
  const health = { colour: 'green' as const, ruleVersion: 1, statusIndex: counter, maskedName: '张*明', idLast4: '123X', mode: 'dynamic' as const, ...over.health };
  return { ...base, ...over, kind: 'resident', health } as CodeClaims;
}

// Envelopes the normal API refuses to build, signed with a trusted key so that only the
// format rule under test can reject them.
async function rawCode(payload: Uint8Array, opts: { protectedBytes?: Uint8Array; trailing?: boolean } = {}) {
  const protectedBytes = opts.protectedBytes ?? protectedHeader(anhui.signer.kid);
  const signature = await anhui.signer.sign(sigStructure(protectedBytes, payload));
  let bytes = encodeSign1({ protectedBytes, payload, signature });
  if (opts.trailing) bytes = Buffer.concat([bytes, Buffer.from([0x00])]);
  return CODE_PREFIX + encodeBase45(bytes);
}

function payloadMap(c: CodeClaims): Map<number, CborValue> {
  const m = new Map<number, CborValue>();
  const health = c.kind === 'resident' ? c.health : undefined;
  m.set(1, c.iss);
  if (c.sub !== undefined) m.set(2, c.sub);
  m.set(4, c.exp).set(6, c.iat).set(7, Buffer.from(c.cti, 'hex'));
  if (health) {
    m.set(-65537, new Map<number, CborValue>([[1, ['green', 'yellow', 'red'].indexOf(health.colour)], [2, health.ruleVersion], [3, health.statusIndex], [4, health.maskedName], [5, health.idLast4], [6, 0]]));
  }
  return m;
}

async function main() {
  const statusValues = new Array(64).fill(0);
  const sl = (issuedAt: number, values: number[]) => signStatusList({ iss: '340000', issuedAt, statuses: values }, anhui.signer);
  const cases: Array<{ name: string; code: string; expect: string; now?: string; statusLists?: string[] }> = [];
  const add = (name: string, code: string, expect: string, extra: { now?: string; statusLists?: Uint8Array[] } = {}) =>
    cases.push({
      name,
      code,
      expect,
      ...(extra.now ? { now: extra.now } : {}),
      ...(extra.statusLists ? { statusLists: extra.statusLists.map(toBase64Url) } : {}),
    });

  add('a green dynamic code', await signCode(resident(), anhui.signer), 'VALID');
  add('a red code signed with the second key', await signCode(resident({ health: { colour: 'red' } }), anhuiLate.signer), 'VALID');
  const venueId = toBase64Url(crypto.createHash('sha256').update('venue 1').digest().subarray(0, 12));
  add(
    'a venue code',
    await signCode(
      { kind: 'venue', iss: '340000', sub: venueId, iat: NOW - 30 * 24 * HOUR, exp: NOW + 335 * 24 * HOUR, cti: '0102030405060708', venue: { id: venueId, type: 'residential-community', name: '合肥市蜀山区某小区东门', district: '340104' } },
      anhui.signer,
    ),
    'VALID',
  );

  const green7 = resident({ health: { statusIndex: 7 } });
  const red8 = resident({ health: { statusIndex: 8, colour: 'red' } });
  const yellow9 = resident({ health: { statusIndex: 9, colour: 'yellow' } });
  const values = [...statusValues];
  values[7] = 0;
  values[8] = 0; // turned green since the red code was issued
  values[9] = 3; // suspended
  values[10] = 2; // turned red; the green code for 10 below is newer than the list
  const fresh = await sl(NOW - 60, values);
  add('a green code the fresh status list agrees with', await signCode(green7, anhui.signer), 'VALID', { statusLists: [fresh] });
  add('a red code superseded by a fresh status list (now green)', await signCode(red8, anhui.signer), 'REVOKED', { statusLists: [fresh] });
  add('a code whose status index is suspended', await signCode(yellow9, anhui.signer), 'REVOKED', { statusLists: [fresh] });
  add(
    'a green code newer than the status list that still says red',
    await signCode(resident({ iat: NOW - 30, exp: NOW + 570, health: { statusIndex: 10 } }), anhui.signer),
    'VALID',
    { statusLists: [fresh] },
  );
  add('a code checked against a status list older than 15 minutes', await signCode(green7, anhui.signer), 'STATUS_STALE', { statusLists: [await sl(NOW - HOUR, values)] });
  add(
    'a code whose index is beyond the status list',
    await signCode(resident({ health: { statusIndex: 5000 } }), anhui.signer),
    'STATUS_STALE',
    { statusLists: [fresh] },
  );
  add(
    'a new resident, issued after the status list and beyond its end',
    await signCode(resident({ iat: NOW - 30, exp: NOW + 570, health: { statusIndex: 5000 } }), anhui.signer),
    'VALID',
    { statusLists: [fresh] },
  );
  add('a printed code with no status list', await signCode(resident({ exp: NOW + 7 * 24 * HOUR, health: { mode: 'printed' } }), anhui.signer), 'STATUS_STALE');
  add(
    'a printed code with a fresh status list',
    await signCode(resident({ exp: NOW + 7 * 24 * HOUR, health: { mode: 'printed', statusIndex: 7 } }), anhui.signer),
    'VALID',
    { statusLists: [fresh] },
  );
  add('a status list issued after the verifier clock', await signCode(green7, anhui.signer), 'CLOCK_UNTRUSTED', { statusLists: [await sl(NOW + HOUR, values)] });
  add('a clock set before the trust list was issued', await signCode(resident({ iat: NOW - 6 * HOUR, exp: NOW + 6 * HOUR }), anhui.signer), 'CLOCK_UNTRUSTED', {
    now: toRfc3339(NOW - 5 * HOUR),
  });

  add('an issuer not in the trust list', await signCode(resident({ iss: '320000' }), jiangsu.signer), 'UNKNOWN_ISSUER');
  add('a key not listed for the issuer', await signCode(resident(), anhuiUnlisted.signer), 'UNKNOWN_KEY');
  const good = await signCode(resident(), anhui.signer);
  const goodBytes = decode45(good);
  const flipped = Buffer.from(goodBytes);
  flipped[flipped.length - 1] ^= 0x01;
  add('a signature with one bit flipped', CODE_PREFIX + encodeBase45(flipped), 'SIGNATURE_INVALID');
  const forged = resident({ health: { colour: 'red' } });
  const greenTwin = { ...forged, health: { ...(forged as Extract<CodeClaims, { kind: 'resident' }>).health, colour: 'green' as const } };
  const realSig = await anhui.signer.sign(sigStructure(protectedHeader(anhui.signer.kid), encodeClaims(forged)));
  add(
    'a red code re-coloured green under the original signature',
    CODE_PREFIX + encodeBase45(encodeSign1({ protectedBytes: protectedHeader(anhui.signer.kid), payload: encodeClaims(greenTwin), signature: realSig })),
    'SIGNATURE_INVALID',
  );
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const sig = Buffer.from(realSig);
  const s = sig.subarray(32).reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n) + L;
  for (let i = 0; i < 32; i++) sig[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn);
  add(
    'a signature malleated to S + L',
    CODE_PREFIX + encodeBase45(encodeSign1({ protectedBytes: protectedHeader(anhui.signer.kid), payload: encodeClaims(forged), signature: sig })),
    'SIGNATURE_INVALID',
  );
  add(
    'a code issued before its key became valid',
    await signCode(resident({ iat: Date.parse('2026-10-15T00:00:00Z') / 1000, exp: NOW + HOUR }), anhuiLate.signer),
    'KEY_NOT_VALID',
  );
  add('a code issued in the future', await signCode(resident({ iat: NOW + HOUR, exp: NOW + 2 * HOUR }), anhui.signer), 'NOT_YET_VALID');
  add('an expired code', await signCode(resident({ iat: NOW - 2 * HOUR, exp: NOW - HOUR }), anhui.signer), 'EXPIRED');

  add('a wrong prefix', 'AK2:' + good.slice(4), 'MALFORMED');
  add('no prefix', good.slice(4), 'MALFORMED');
  add('characters outside base45', good.slice(0, 10) + 'abc' + good.slice(13), 'MALFORMED');
  add('a dangling base45 character', good + '0', 'MALFORMED');
  add('a byte after the COSE_Sign1', await rawCode(encodeClaims(resident()), { trailing: true }), 'MALFORMED');
  const m = payloadMap(resident());
  const mapHead = (n: number) => Buffer.from([0xa0 + n]);
  const entries = [...m].map(([k, v]) => Buffer.concat([encodeCbor(k), encodeCbor(v)]));
  add('claims out of deterministic key order', await rawCode(Buffer.concat([mapHead(m.size), ...entries.reverse()])), 'MALFORMED');
  add('an indefinite-length claims map', await rawCode(Buffer.concat([Buffer.from([0xbf]), ...[...entries].reverse(), Buffer.from([0xff])])), 'MALFORMED');
  const ordered = [...m].map(([k, v]) => Buffer.concat([encodeCbor(k), encodeCbor(v)]));
  const iatAt = [...m.keys()].indexOf(6);
  add('a duplicated claim key', await rawCode(Buffer.concat([mapHead(m.size + 1), ordered[0], ordered[0], ...ordered.slice(1)])), 'MALFORMED');
  add(
    'an integer not in its shortest form (iat as a 64-bit head)',
    await rawCode(Buffer.concat([mapHead(m.size), ...ordered.slice(0, iatAt), Buffer.from([0x06, 0x1b, 0, 0, 0, 0]), Buffer.from(encodeCbor(NOW - 120)).subarray(1), ...ordered.slice(iatAt + 1)])),
    'MALFORMED',
  );
  const noCti = new Map(m);
  noCti.delete(7);
  add('a missing cti claim', await rawCode(encodeCbor(noCti)), 'MALFORMED');
  const textIat = new Map(m).set(6, String(NOW - 120));
  add('an iat given as text', await rawCode(encodeCbor(textIat)), 'MALFORMED');
  add('an alg other than EdDSA (-7, ES256)', await rawCode(encodeClaims(resident()), { protectedBytes: encodeCbor(new Map<number, CborValue>([[1, -7], [4, anhui.signer.kid]])) }), 'MALFORMED');
  add('a COSE_Sign1 without tag 18', CODE_PREFIX + encodeBase45(encodeCbor((decodeTag(goodBytes)))), 'MALFORMED');

  // Cases added later go last, so that the codes of earlier cases stay as they were.
  // exp − iat caps (FORMAT.md §4.3): 1 hour dynamic, 30 days printed, 366 days venue.
  add('a dynamic code that lives exactly one hour', await signCode(resident({ iat: NOW - 120, exp: NOW - 120 + HOUR }), anhui.signer), 'VALID');
  add('a dynamic code that lives one hour and one second', await signCode(resident({ iat: NOW - 120, exp: NOW - 120 + HOUR + 1 }), anhui.signer), 'LIFETIME_TOO_LONG');
  add(
    'a printed code that lives 30 days and one second, with a fresh status list',
    await signCode(resident({ iat: NOW - 120, exp: NOW - 120 + 30 * 24 * HOUR + 1, health: { mode: 'printed', statusIndex: 7 } }), anhui.signer),
    'LIFETIME_TOO_LONG',
    { statusLists: [fresh] },
  );
  add(
    'a code signed with a trusted key that expires in 2036',
    await signCode(resident({ iat: NOW - 120, exp: Date.parse('2036-01-01T00:00:00Z') / 1000 }), anhui.signer),
    'LIFETIME_TOO_LONG',
  );
  const venue366 = { kind: 'venue' as const, iss: '340000', sub: venueId, cti: '0102030405060709', venue: { id: venueId, type: 'school' as const, name: '合肥市第一中学', district: '340104' } };
  add('a venue code that lives exactly 366 days', await signCode({ ...venue366, iat: NOW - 24 * HOUR, exp: NOW - 24 * HOUR + 366 * 24 * HOUR }, anhui.signer), 'VALID');
  add(
    'a venue code that lives 366 days and one second',
    await signCode({ ...venue366, iat: NOW - 24 * HOUR, exp: NOW - 24 * HOUR + 366 * 24 * HOUR + 1 }, anhui.signer),
    'LIFETIME_TOO_LONG',
  );

  // Revocation (FORMAT.md §5): every code of a revoked key is refused, whenever it claims to be issued.
  add(
    'a printed code of a revoked key, issued before the revocation, with a fresh status list',
    await signCode(resident({ iat: NOW - 3 * HOUR, exp: NOW - 3 * HOUR + 7 * 24 * HOUR, health: { mode: 'printed', statusIndex: 7 } }), anhuiRevoked.signer),
    'KEY_REVOKED',
    { statusLists: [fresh] },
  );
  add('a code of a revoked key, issued after the revocation', await signCode(resident(), anhuiRevoked.signer), 'KEY_REVOKED');
  add(
    'a printed code whose only status list is signed by a revoked key',
    await signCode(resident({ exp: NOW + 7 * 24 * HOUR, health: { mode: 'printed', statusIndex: 7 } }), anhui.signer),
    'STATUS_STALE',
    { statusLists: [await signStatusList({ iss: '340000', issuedAt: NOW - 60, statuses: values }, anhuiRevoked.signer)] },
  );

  // The format's second revision (FORMAT.md §4): resident codes carry no sub. A code of the
  // first revision, with the resident's pseudonym in sub, counts only if issued before the cut-over.
  const legacySub = toBase64Url(crypto.createHash('sha256').update('legacy resident').digest().subarray(0, 12));
  add('a resident code of the first revision (with sub), issued before the cut-over', await signCode(resident({ sub: legacySub }), anhui.signer), 'VALID');
  const afterCutover = RESIDENT_SUB_CUTOVER + 3 * HOUR;
  add(
    'a resident code with sub, issued after the cut-over',
    await signCode(resident({ sub: legacySub, iat: afterCutover - 60, exp: afterCutover + 540 }), anhui.signer),
    'SUB_NOT_ALLOWED',
    { now: toRfc3339(afterCutover) },
  );
  add(
    'a resident code without sub, issued after the cut-over',
    await signCode(resident({ iat: afterCutover - 60, exp: afterCutover + 540 }), anhui.signer),
    'VALID',
    { now: toRfc3339(afterCutover) },
  );
  const venueNoSub = encodeCbor(
    new Map<number, CborValue>([
      [1, '340000'],
      [4, NOW + 24 * HOUR],
      [6, NOW - 24 * HOUR],
      [7, Buffer.from('010203040506070a', 'hex')],
      [-65538, new Map<number, CborValue>([[1, venueId], [2, 0], [3, '某小区东门'], [4, '340104']])],
    ]),
  );
  add('a venue code without sub', await rawCode(venueNoSub), 'MALFORMED');

  const doc = {
    description: 'Ankang AK1 conformance vectors: verify each code with the trust list at `now` (or the case `now`), passing the case statusLists (base64url of the signed status-list bytes); the result code must equal `expect`. See FORMAT.md.',
    now: toRfc3339(NOW),
    maxClockSkewSeconds: 60,
    statusMaxAgeSeconds: 900,
    trustList,
    cases,
  };
  const out = join(__dirname, '../../verifier/vectors/codes.json');
  writeFileSync(out, JSON.stringify(doc, null, 2) + '\n');
  console.log(`wrote ${cases.length} cases to ${out}`);
}

function decode45(text: string): Uint8Array {
  return decodeBase45(text.slice(CODE_PREFIX.length));
}

function decodeTag(bytes: Uint8Array): CborValue {
  return (decodeCbor(bytes) as Tagged).value;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
