import { expect } from 'chai';
import { Tagged, decodeCbor, encodeCbor, isVerifierError, type CborValue } from '../../verifier/src';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

function rejects(h: string): string {
  try {
    decodeCbor(unhex(h));
  } catch (e) {
    if (isVerifierError(e, 'MALFORMED')) return e.message;
    throw e;
  }
  throw new Error(`decoded ${h} without complaint`);
}

describe('deterministic CBOR', () => {
  describe('encodeCbor', () => {
    // RFC 8949 Appendix A examples for the types AK1 uses.
    const examples: Array<[CborValue, string]> = [
      [0, '00'],
      [23, '17'],
      [24, '1818'],
      [1000, '1903e8'],
      [1000000, '1a000f4240'],
      [1000000000000, '1b000000e8d4a51000'],
      [-1, '20'],
      [-1000, '3903e7'],
      [-65537, '3a00010000'],
      [unhex('01020304'), '4401020304'],
      ['IETF', '6449455446'],
      ['水', '63e6b0b4'],
      [[1, [2, 3], [4, 5]], '8301820203820405'],
      [false, 'f4'],
      [true, 'f5'],
      [null, 'f6'],
      [new Tagged(18, []), 'd280'],
    ];
    for (const [value, encoded] of examples) {
      it(`encodes ${encoded} (RFC 8949 Appendix A)`, () => {
        expect(hex(encodeCbor(value))).to.equal(encoded);
        expect(decodeCbor(unhex(encoded))).to.deep.equal(value);
      });
    }

    it('sorts map keys by their encoded bytes (§4.2.1), whatever the insertion order', () => {
      const m = new Map<number | string, CborValue>([
        [-65537, 1],
        ['a', 2],
        [10, 3],
        [1, 4],
        [-1, 5],
      ]);
      // 01, 0a, 20, 3a00010000, 6161
      expect(hex(encodeCbor(m))).to.equal('a5' + '0104' + '0a03' + '2005' + '3a0001000001' + '616102');
    });

    it('writes items longer than its first buffer, nested, whole and in order', () => {
      // 300 bytes, then a map holding 70,000 bytes of text (heads 59 012c and 7a 00011170).
      const big = new Uint8Array(300).map((_, i) => i % 251);
      const text = 'x'.repeat(70_000);
      const value: CborValue = [big, new Map<number, CborValue>([[1, text]]), 1];
      const out = encodeCbor(value);
      expect(hex(out.subarray(0, 4))).to.equal('83' + '59012c');
      expect(hex(out.subarray(304, 311))).to.equal('a1' + '01' + '7a00011170');
      expect(out.length).to.equal(1 + 3 + 300 + 1 + 1 + 5 + 70_000 + 1);
      expect(decodeCbor(out)).to.deep.equal(value);
    });

    it('encodes a map the same way each time its keys come round again', () => {
      const m = () =>
        new Map<number | string, CborValue>([
          ['b', 1],
          [-8, 2],
          ['a', 3],
        ]);
      const first = hex(encodeCbor(m()));
      expect(first).to.equal('a3' + '2702' + '616103' + '616201');
      const again = encodeCbor(m());
      // Whoever gets the bytes may change them: that must not reach the next encoding.
      again.fill(0);
      expect(hex(encodeCbor(m()))).to.equal(first);
    });

    it('refuses floats, unsafe integers and duplicate keys', () => {
      expect(() => encodeCbor(1.5)).to.throw(/integers only/);
      expect(() => encodeCbor(2 ** 60)).to.throw(/integers only/);
    });
  });

  describe('decodeCbor', () => {
    it('rejects indefinite-length maps, arrays and strings', () => {
      expect(rejects('bf01f6ff')).to.match(/indefinite/);
      expect(rejects('9f01ff')).to.match(/indefinite/);
      expect(rejects('5f4101ff')).to.match(/indefinite/);
    });
    it('rejects heads that are not in their shortest form', () => {
      expect(rejects('1801')).to.match(/shortest/);
      expect(rejects('190017')).to.match(/shortest/);
      expect(rejects('1a0000ffff')).to.match(/shortest/);
      expect(rejects('1b00000000ffffffff')).to.match(/shortest/);
      expect(rejects('5801ff')).to.match(/shortest/);
    });
    it('rejects map keys out of order and duplicated keys', () => {
      expect(rejects('a2020101f6')).to.match(/order/);
      expect(rejects('a20101' + '0102')).to.match(/duplicate/);
    });
    it('rejects trailing bytes', () => {
      expect(rejects('0100')).to.match(/trailing/);
    });
    it('rejects floats, undefined and other simple values', () => {
      expect(rejects('f93c00')).to.match(/simple value or float/);
      expect(rejects('f7')).to.match(/simple value or float/);
      expect(rejects('f0')).to.match(/simple value or float/);
    });
    it('rejects invalid UTF-8 in text strings', () => {
      expect(rejects('62c328')).to.match(/UTF-8/);
    });
    it('rejects lengths that run past the end without allocating them', () => {
      expect(rejects('5affffffff00')).to.match(/past the end/);
      expect(rejects('9affffffff')).to.match(/longer than its input/);
    });
    it('rejects keys that are not integers or text', () => {
      expect(rejects('a1410101')).to.match(/key must be/);
    });
    it('rejects nesting deeper than 16', () => {
      expect(rejects('81'.repeat(40) + '00')).to.match(/deeply/);
    });
    it('rejects integers beyond 2^53 - 1', () => {
      expect(rejects('1b0020000000000000')).to.match(/2\^53/);
    });
  });
});
