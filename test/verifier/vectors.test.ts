import { expect } from 'chai';
import { fromBase64Url, prepareTrustList, verifyCode, type Backend, type ResultCode } from '../../verifier/src';
import { nodeCrypto as runtimeCrypto } from '../../verifier/src/runtime';
import vectors from '../../verifier/vectors/codes.json';

const ALL_CODES: ResultCode[] = [
  'VALID',
  'MALFORMED',
  'UNKNOWN_ISSUER',
  'KEY_REVOKED',
  'UNKNOWN_KEY',
  'SIGNATURE_INVALID',
  'KEY_NOT_VALID',
  'LIFETIME_TOO_LONG',
  'SUB_NOT_ALLOWED',
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

  // Every backend must give every case the same answer (undefined: the runtime's default).
  for (const backend of [undefined, 'node-async', 'webcrypto', 'noble'] as Array<Backend | undefined>) {
    describe(backend ? `with backend: '${backend}'` : 'with the default backend', () => {
      if (backend) {
        it('checks signatures with that backend', () => {
          const keys = [...prepareTrustList(vectors.trustList, backend).issuers.values()].flatMap((i) => [
            ...i.keys.values(),
          ]);
          expect(keys).to.not.be.empty;
          expect(new Set(keys.map((k) => k.verifier.backend))).to.deep.equal(new Set([backend]));
        });
      }
      if (backend === 'node-async') {
        it("verifyCode passes the check to node:crypto's callback form", async () => {
          const valid = vectors.cases.find(
            (c) => c.expect === 'VALID' && !(c as { statusLists?: string[] }).statusLists,
          )!;
          // The module object the backend calls through, so a wrapper sees every check.
          const nodeCrypto = runtimeCrypto as unknown as { verify: (...args: unknown[]) => unknown };
          const original = nodeCrypto.verify;
          const calls: boolean[] = [];
          nodeCrypto.verify = (...args: unknown[]) => {
            calls.push(typeof args[4] === 'function');
            return original(...args);
          };
          try {
            const r = await verifyCode(valid.code, {
              trustList: structuredClone(vectors.trustList),
              now: (valid as { now?: string }).now ?? vectors.now,
              backend,
            });
            expect(r.code).to.equal('VALID');
          } finally {
            nodeCrypto.verify = original;
          }
          expect(calls).to.deep.equal([true]);
        });
      }
      for (const c of vectors.cases) {
        it(`${c.name} → ${c.expect}`, async () => {
          const r = await verifyCode(c.code, {
            trustList: vectors.trustList,
            now: (c as { now?: string }).now ?? vectors.now,
            statusLists: (c as { statusLists?: string[] }).statusLists?.map((s) => fromBase64Url(s)),
            maxClockSkewSeconds: vectors.maxClockSkewSeconds,
            statusMaxAgeSeconds: vectors.statusMaxAgeSeconds,
            backend,
          });
          expect(r.code, r.message).to.equal(c.expect);
          expect(r.valid).to.equal(c.expect === 'VALID');
        });
      }
    });
  }
});
