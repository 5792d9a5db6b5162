import { expect } from 'chai';
import { fromBase64Url, verifyCode, type ResultCode } from '../../verifier/src';
import vectors from '../../verifier/vectors/codes.json';

const ALL_CODES: ResultCode[] = [
  'VALID',
  'MALFORMED',
  'UNKNOWN_ISSUER',
  'UNKNOWN_KEY',
  'SIGNATURE_INVALID',
  'KEY_NOT_VALID',
  'NOT_YET_VALID',
  'EXPIRED',
  'REVOKED',
  'STATUS_STALE',
  'CLOCK_UNTRUSTED',
];

describe('verifier/vectors/codes.json', () => {
  it('has at least one case for every result code', () => {
    const seen = new Set(vectors.cases.map((c) => c.expect));
    expect([...seen].sort()).to.deep.equal([...ALL_CODES].sort());
  });

  for (const c of vectors.cases) {
    it(`${c.name} → ${c.expect}`, async () => {
      const r = await verifyCode(c.code, {
        trustList: vectors.trustList,
        now: (c as { now?: string }).now ?? vectors.now,
        statusLists: (c as { statusLists?: string[] }).statusLists?.map((s) => fromBase64Url(s)),
        maxClockSkewSeconds: vectors.maxClockSkewSeconds,
        statusMaxAgeSeconds: vectors.statusMaxAgeSeconds,
      });
      expect(r.code, r.message).to.equal(c.expect);
      expect(r.valid).to.equal(c.expect === 'VALID');
    });
  }
});
