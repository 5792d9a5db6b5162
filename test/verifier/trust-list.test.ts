import { expect } from 'chai';
import {
  isVerifierError,
  loadStatusList,
  prepareTrustList,
  toHex,
  toRfc3339,
  trustListFromRegistry,
  verifyCode,
  type RegistryIssuer,
  type TrustListJson,
} from '../../verifier/src';
import { FIXED_IAT, createTestIssuer } from '../support/issuer-fixture';

const NOW = (FIXED_IAT + 600) * 1000;

describe('trust lists with revoked keys (FORMAT.md §5)', () => {
  const live = createTestIssuer();
  const stolen = createTestIssuer();
  const revokedAt = '2026-11-28T10:00:00Z';

  const listWith = (revokedKeys: unknown): TrustListJson =>
    ({
      format: 'ankang-trust-list/1',
      issuedAt: '2026-11-28T00:00:00Z',
      issuers: [{ ...live.trustListEntry, revokedKeys }],
    }) as TrustListJson;

  describe('prepareTrustList', () => {
    it('reads each revoked kid with its revocation time', () => {
      const prepared = prepareTrustList(listWith([{ kid: stolen.kidText, revokedAt }]));
      expect([...prepared.issuers.get('340000')!.revoked]).to.deep.equal([
        [stolen.kidText, Date.parse(revokedAt) / 1000],
      ]);
    });

    const refused: Array<[string, unknown, RegExp]> = [
      ['a kid that is also among the keys', [{ kid: live.kidText, revokedAt }], /is also among the keys/],
      [
        'a kid twice',
        [
          { kid: stolen.kidText, revokedAt },
          { kid: stolen.kidText, revokedAt },
        ],
        /repeats kid/,
      ],
      ['a kid that is not 8 bytes', [{ kid: 'AAAA', revokedAt }], /base64url of 8 bytes/],
      [
        'a revocation time without an offset',
        [{ kid: stolen.kidText, revokedAt: '2026-11-28T10:00:00' }],
        /revokedAt must be an RFC 3339 time/,
      ],
      ['revokedKeys that is not an array', { kid: stolen.kidText, revokedAt }, /revokedKeys must be an array/],
    ];
    for (const [what, revokedKeys, message] of refused) {
      it(`refuses the whole list for ${what} (MALFORMED)`, () => {
        let thrown: unknown;
        try {
          prepareTrustList(listWith(revokedKeys));
        } catch (e) {
          thrown = e;
        }
        expect(isVerifierError(thrown, 'MALFORMED'), String(thrown)).to.equal(true);
        expect((thrown as Error).message).to.match(message);
      });
    }
  });

  describe('verifyCode', () => {
    it('returns KEY_REVOKED for a code of a revoked key issued before the revocation, naming the time, without claims', async () => {
      const trustList = listWith([{ kid: stolen.kidText, revokedAt }]);
      const code = await stolen.sign(
        stolen.residentClaims({
          iat: FIXED_IAT - 7200,
          exp: FIXED_IAT - 7200 + 7 * 86400,
          health: { mode: 'printed' },
        }),
      );
      const r = await verifyCode(code, { trustList, now: NOW });
      expect(r).to.include({ valid: false, code: 'KEY_REVOKED' });
      expect(r.message).to.include(stolen.kidText).and.include(revokedAt);
      expect(r.claims).to.equal(undefined);
    });

    it("still accepts the issuer's other keys", async () => {
      const r = await verifyCode(await live.sign(live.residentClaims({ iat: FIXED_IAT })), {
        trustList: listWith([{ kid: stolen.kidText, revokedAt }]),
        now: NOW,
      });
      expect(r.code, r.message).to.equal('VALID');
    });

    it('returns UNKNOWN_KEY for the same code when the list does not name the revocation', async () => {
      const code = await stolen.sign(stolen.residentClaims({ iat: FIXED_IAT }));
      expect((await verifyCode(code, { trustList: listWith(undefined), now: NOW })).code).to.equal('UNKNOWN_KEY');
    });
  });

  describe('loadStatusList', () => {
    it('refuses a status list signed by a revoked key with KEY_REVOKED', async () => {
      const bytes = await stolen.signStatusList({ issuedAt: FIXED_IAT, statuses: [0, 0, 0] });
      const r = await loadStatusList(bytes, prepareTrustList(listWith([{ kid: stolen.kidText, revokedAt }])));
      expect(r).to.include({ valid: false, code: 'KEY_REVOKED' });
    });
  });

  describe('trustListFromRegistry', () => {
    const chainKey = (i: typeof live, revoked: number, notAfter = Date.parse('2027-12-31T23:59:59Z') / 1000) => ({
      kid: `0x${toHex(i.kid)}`,
      publicKey: `0x${toHex(i.publicKey)}`,
      notBefore: Date.parse('2026-01-01T00:00:00Z') / 1000,
      notAfter,
      revokedAt: revoked,
    });

    it('lists a key revoked on chain under revokedKeys with the block time of its revocation, not among the keys', () => {
      const registry: RegistryIssuer[] = [
        {
          id: 340000,
          name: '安徽省',
          statusListUrl: '',
          keys: [chainKey(live, 0), chainKey(stolen, Date.parse(revokedAt) / 1000)],
        },
      ];
      const [issuer] = trustListFromRegistry(registry, FIXED_IAT).issuers;
      expect(issuer.keys.map((k) => k.kid)).to.deep.equal([live.kidText]);
      expect(issuer.revokedKeys).to.deep.equal([{ kid: stolen.kidText, revokedAt }]);
    });

    describe('with a key its issuer retired on chain (retireKey shortened its notAfter)', () => {
      const retiredAt = FIXED_IAT - 3600;
      const registry: RegistryIssuer[] = [
        { id: 340000, name: '安徽省', statusListUrl: '', keys: [chainKey(stolen, 0, retiredAt), chainKey(live, 0)] },
      ];
      const dynamicAt = (iat: number) => stolen.sign(stolen.residentClaims({ iat, exp: iat + 3600 }));
      /** Seconds after which no code of the retired key can still be valid: the venue cap and the skew. */
      const listedUntil = retiredAt + 366 * 86_400 + 60;

      it('lists it with the shortened notAfter: a code it claims to sign after the retirement is KEY_NOT_VALID, one from before is VALID until it expires', async () => {
        const trustList = trustListFromRegistry(registry, retiredAt);
        expect(trustList.issuers[0].keys.find((k) => k.kid === stolen.kidText)).to.include({
          notAfter: toRfc3339(retiredAt),
        });
        const after = await verifyCode(await dynamicAt(retiredAt + 1), { trustList, now: (retiredAt + 60) * 1000 });
        expect(after.code, after.message).to.equal('KEY_NOT_VALID');
        const before = await dynamicAt(retiredAt - 60);
        expect((await verifyCode(before, { trustList, now: (retiredAt + 60) * 1000 })).code).to.equal('VALID');
        expect((await verifyCode(before, { trustList, now: (retiredAt - 60 + 3600 + 61) * 1000 })).code).to.equal(
          'EXPIRED',
        );
      });

      it('keeps it until the longest code it could have signed has expired (notAfter + 366 days + 60 s), then leaves it out: UNKNOWN_KEY', async () => {
        const kids = (now: number) => trustListFromRegistry(registry, now).issuers[0].keys.map((k) => k.kid);
        expect(kids(listedUntil)).to.deep.equal([stolen.kidText, live.kidText]);
        expect(kids(listedUntil + 1)).to.deep.equal([live.kidText]);
        const trustList = trustListFromRegistry(registry, listedUntil + 1);
        const r = await verifyCode(await dynamicAt(retiredAt - 60), { trustList, now: (listedUntil + 1) * 1000 });
        expect(r.code).to.equal('UNKNOWN_KEY');
      });

      it('drops a key that was never retired the same way, one longest lifetime after the notAfter it was registered with', () => {
        const notAfter = Date.parse('2027-12-31T23:59:59Z') / 1000;
        const kids = (now: number) => trustListFromRegistry(registry, now).issuers[0]?.keys.map((k) => k.kid);
        expect(kids(notAfter + 366 * 86_400 + 60)).to.include(live.kidText);
        expect(kids(notAfter + 366 * 86_400 + 61)).to.equal(undefined);
      });
    });

    it('keeps an issuer whose every key is revoked, so its codes are KEY_REVOKED rather than UNKNOWN_ISSUER', async () => {
      const registry: RegistryIssuer[] = [
        { id: 340000, name: '安徽省', statusListUrl: '', keys: [chainKey(stolen, Date.parse(revokedAt) / 1000)] },
      ];
      const trustList = trustListFromRegistry(registry, FIXED_IAT);
      expect(trustList.issuers[0]).to.include({ id: '340000' });
      expect(trustList.issuers[0].keys).to.deep.equal([]);
      const r = await verifyCode(await stolen.sign(stolen.residentClaims({ iat: FIXED_IAT })), { trustList, now: NOW });
      expect(r.code).to.equal('KEY_REVOKED');
    });
  });
});
