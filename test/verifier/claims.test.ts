import { expect } from 'chai';
import {
  decodeCbor,
  decodeClaims,
  encodeClaims,
  isVerifierError,
  RESIDENT_SUB_CUTOVER,
  subNotAllowed,
  type CodeClaims,
  type ResidentClaims,
} from '../../verifier/src';

const resident = (over: Partial<ResidentClaims> = {}): ResidentClaims => ({
  kind: 'resident',
  iss: '340000',
  iat: RESIDENT_SUB_CUTOVER + 60,
  exp: RESIDENT_SUB_CUTOVER + 660,
  cti: '0011223344556677',
  health: { colour: 'green', ruleVersion: 1, statusIndex: 3, maskedName: '张*明', idLast4: '123X', mode: 'dynamic' },
  ...over,
});

describe('claims (FORMAT.md §4)', () => {
  describe('a resident code of the second revision', () => {
    it('encodes no claim 2 (sub) and decodes back without one', () => {
      const bytes = encodeClaims(resident());
      const map = decodeCbor(bytes) as Map<number, unknown>;
      expect([...map.keys()]).to.deep.equal([1, 4, 6, 7, -65537]);
      const back = decodeClaims(bytes);
      expect(back).to.not.have.property('sub');
      expect(back).to.deep.equal(resident());
    });
  });

  describe('a resident code of the first revision (with sub)', () => {
    const sub = 'AAECAwQFBgcICQoL';
    it('still decodes, sub and all', () => {
      const c = resident({ sub, iat: RESIDENT_SUB_CUTOVER - 600, exp: RESIDENT_SUB_CUTOVER });
      expect(decodeClaims(encodeClaims(c))).to.deep.equal(c);
    });
    it('breaks the cut-over only when issued at or after it', () => {
      expect(subNotAllowed(resident({ sub, iat: RESIDENT_SUB_CUTOVER - 1, exp: RESIDENT_SUB_CUTOVER + 599 }))).to.equal(
        false,
      );
      expect(subNotAllowed(resident({ sub, iat: RESIDENT_SUB_CUTOVER, exp: RESIDENT_SUB_CUTOVER + 600 }))).to.equal(
        true,
      );
      expect(subNotAllowed(resident({ iat: RESIDENT_SUB_CUTOVER, exp: RESIDENT_SUB_CUTOVER + 600 }))).to.equal(false);
    });
    it('is refused when sub is not a 12-byte pseudonym', () => {
      expect(() => encodeClaims(resident({ sub: 'short' })))
        .to.throw()
        .that.satisfies((e: unknown) => isVerifierError(e, 'MALFORMED'));
    });
  });

  describe('a venue code', () => {
    const venueId = 'AAECAwQFBgcICQoL';
    const venue: CodeClaims = {
      kind: 'venue',
      iss: '340000',
      sub: venueId,
      iat: RESIDENT_SUB_CUTOVER + 60,
      exp: RESIDENT_SUB_CUTOVER + 86_400,
      cti: '0011223344556677',
      venue: { id: venueId, type: 'school', name: '合肥市第一中学', district: '340104' },
    };
    it('keeps sub = venue id, and is never held to the cut-over', () => {
      expect(decodeClaims(encodeClaims(venue))).to.deep.equal(venue);
      expect(subNotAllowed(venue)).to.equal(false);
    });
  });
});
