import { expect } from 'chai';
import { checkPublicKey, createKeyVerifier, isCanonicalScalar, type Backend } from '../../verifier/src';
import vectors from './vectors/ed25519-strict.json';

const unhex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const BACKENDS: Backend[] = ['node', 'node-async', 'webcrypto', 'noble'];

describe('Ed25519 verification', () => {
  for (const backend of BACKENDS) {
    describe(`with the ${backend} backend`, () => {
      for (const c of vectors.cases) {
        it(`${c.valid ? 'accepts' : 'rejects'} ${c.name}`, async () => {
          expect(checkPublicKey(unhex(c.publicKey))).to.equal(undefined);
          const v = createKeyVerifier(unhex(c.publicKey), backend);
          expect(v.backend).to.equal(backend);
          expect(await v.verify(unhex(c.message), unhex(c.signature))).to.equal(c.valid);
        });
      }
      it('rejects a signature of the wrong length', async () => {
        const c = vectors.cases[0];
        const v = createKeyVerifier(unhex(c.publicKey), backend);
        expect(await v.verify(unhex(c.message), unhex(c.signature).subarray(0, 63))).to.equal(false);
      });
    });
  }

  describe('checkPublicKey', () => {
    it('rejects the identity point (small order)', () => {
      expect(checkPublicKey(unhex('01' + '00'.repeat(31)))).to.match(/small order/);
    });
    it('rejects a point of order 8', () => {
      expect(checkPublicKey(unhex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'))).to.match(
        /small order/,
      );
    });
    it('rejects a non-canonical encoding (y = p)', () => {
      expect(checkPublicKey(unhex('ed' + 'ff'.repeat(30) + '7f'))).to.match(/canonical/);
    });
    it('rejects a y with no curve point and a short key', () => {
      expect(checkPublicKey(unhex('02' + '00'.repeat(31)))).to.match(/canonical curve point/);
      expect(checkPublicKey(new Uint8Array(31))).to.match(/32 bytes/);
    });
  });

  describe('isCanonicalScalar', () => {
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const le = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
    it('accepts 0 and L - 1 and rejects L, L + 1 and 2^256 - 1', () => {
      expect(isCanonicalScalar(le(0n))).to.equal(true);
      expect(isCanonicalScalar(le(L - 1n))).to.equal(true);
      expect(isCanonicalScalar(le(L))).to.equal(false);
      expect(isCanonicalScalar(le(L + 1n))).to.equal(false);
      expect(isCanonicalScalar(le(2n ** 256n - 1n))).to.equal(false);
    });
  });
});
