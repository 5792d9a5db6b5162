import { expect } from 'chai';
import fc from 'fast-check';
import { fromHex, toHex } from '../../verifier/src/bytes';
import { VerifierError } from '../../verifier/src/errors';

describe('hex (verifier/src/bytes)', () => {
  it('agrees with Buffer both ways for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const hex = Buffer.from(bytes).toString('hex');
        expect(toHex(bytes)).to.equal(hex);
        expect(Buffer.from(fromHex(hex)).equals(Buffer.from(bytes))).to.equal(true);
        expect(Buffer.from(fromHex(hex.toUpperCase())).equals(Buffer.from(bytes))).to.equal(true);
      }),
    );
  });

  it('reads an 0x prefix and an empty string', () => {
    expect([...fromHex('0x00ff10')]).to.deep.equal([0, 255, 16]);
    expect(fromHex('').length).to.equal(0);
  });

  for (const bad of ['0', 'abc', 'zz', '0g', 'g0', '12 4', '١٢', '0x1']) {
    it(`refuses ${JSON.stringify(bad)} as MALFORMED`, () => {
      expect(() => fromHex(bad))
        .to.throw(VerifierError)
        .with.property('code', 'MALFORMED');
    });
  }
});
