import { expect } from 'chai';
import { decodeBase45, encodeBase45, isVerifierError } from '../../verifier/src';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('base45 (RFC 9285)', () => {
  const examples: Array<[string, string]> = [
    ['AB', 'BB8'],
    ['Hello!!', '%69 VD92EX0'],
    ['base-45', 'UJCLQE7W581'],
    ['ietf!', 'QED8WEX0'],
    ['', ''],
  ];
  for (const [plain, encoded] of examples) {
    it(`encodes ${JSON.stringify(plain)} as ${JSON.stringify(encoded)} and back (§4.3 examples)`, () => {
      expect(encodeBase45(utf8(plain))).to.equal(encoded);
      expect(new TextDecoder().decode(decodeBase45(encoded))).to.equal(plain);
    });
  }

  it('round-trips every byte value at every length up to 64', () => {
    for (let n = 0; n <= 64; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      expect(decodeBase45(encodeBase45(bytes))).to.deep.equal(bytes);
    }
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(decodeBase45(encodeBase45(all))).to.deep.equal(all);
  });

  describe('when the text is not valid base45', () => {
    const bad: Array<[string, string]> = [
      ['GGW', 'a triplet above 65535'],
      ['GG', 'a pair above 255'],
      ['BB8A', 'a dangling character'],
      ['bb8', 'lower-case letters'],
      ['BB#', 'a character outside the alphabet'],
      ['BB\u00e9', 'a non-ASCII character'],
    ];
    for (const [text, why] of bad) {
      it(`rejects ${why} with MALFORMED`, () => {
        let err: unknown;
        try {
          decodeBase45(text);
        } catch (e) {
          err = e;
        }
        expect(isVerifierError(err, 'MALFORMED'), String(err)).to.equal(true);
      });
    }
  });
});
