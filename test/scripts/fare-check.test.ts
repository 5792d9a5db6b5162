import { expect } from 'chai';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { checkFareRequest, type FareTrustList } from '../../scripts/lib/fare-check';
import { signFareRequest, type FareClaims } from '../../server/services/fare';
import type { Signer } from '../../verifier/src';

const NOW = Date.parse('2026-03-10T02:00:00Z') / 1000;
const iso = (s: number) => new Date(s * 1000).toISOString();

function issuerKey(): { kid: string; x: string; signer: Signer } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  const kid = createHash('sha256').update(raw).digest().subarray(0, 8);
  return {
    kid: kid.toString('base64url'),
    x: raw.toString('base64url'),
    signer: { kid: new Uint8Array(kid), sign: (d) => new Uint8Array(sign(null, d, privateKey as KeyObject)) },
  };
}

const current = issuerKey();
const mislabelled = issuerKey();
const retired = issuerKey();
const revoked = issuerKey();
const foreign = issuerKey();

const TRUST: FareTrustList = {
  issuers: [
    {
      id: '340000',
      keys: [
        {
          kid: current.kid,
          kty: 'OKP',
          crv: 'Ed25519',
          x: current.x,
          notBefore: iso(NOW - 86_400),
          notAfter: iso(NOW + 86_400 * 700),
        },
        // Another key's x under this kid: the trust list itself is wrong.
        {
          kid: mislabelled.kid,
          kty: 'OKP',
          crv: 'Ed25519',
          x: current.x,
          notBefore: iso(NOW - 86_400),
          notAfter: iso(NOW + 86_400),
        },
        {
          kid: retired.kid,
          kty: 'OKP',
          crv: 'Ed25519',
          x: retired.x,
          notBefore: iso(NOW - 86_400 * 30),
          notAfter: iso(NOW - 86_400),
        },
      ],
      revokedKeys: [{ kid: revoked.kid, revokedAt: iso(NOW - 3600) }],
    },
    {
      id: '320000',
      keys: [
        {
          kid: foreign.kid,
          kty: 'OKP',
          crv: 'Ed25519',
          x: foreign.x,
          notBefore: iso(NOW - 86_400),
          notAfter: iso(NOW + 86_400),
        },
      ],
    },
  ],
};

const claims = (over: Partial<FareClaims> = {}): FareClaims => ({
  iss: '340000',
  jti: 'j1',
  iat: NOW,
  exp: NOW + 300,
  provider: 'standin-pay',
  token: 'pay_x',
  amount: 200,
  currency: 'CNY',
  desk: 'd',
  venue: 'v',
  lookup: 7,
  ...over,
});

const check = (jws: unknown, now = NOW) =>
  checkFareRequest(jws, { trustList: TRUST, issuers: ['340000'], provider: 'standin-pay', now });

describe('checkFareRequest (scripts/lib/fare-check.ts)', () => {
  it("accepts a request signed by the issuer's current key, with its claims", async () => {
    const r = await check(await signFareRequest(claims(), current.signer));
    expect(r).to.deep.equal({ ok: true, claims: claims(), kid: current.kid });
  });

  it('refuses a revoked key, a retired key for a request signed after it retired, a listed key whose kid is not its own, and another issuer than the accepted one, as FARE_SIGNATURE_INVALID', async () => {
    const cases: Array<[Signer, Partial<FareClaims>, string]> = [
      [revoked.signer, {}, 'the key was revoked'],
      [retired.signer, {}, 'the key was not valid when the request was signed'],
      [mislabelled.signer, {}, "the trust list's key does not match its kid"],
      [foreign.signer, { iss: '320000' }, 'the issuer is not one this provider trusts'],
    ];
    for (const [signer, over, message] of cases) {
      expect(await check(await signFareRequest(claims(over), signer))).to.deep.equal({
        ok: false,
        code: 'FARE_SIGNATURE_INVALID',
        message,
      });
    }
  });

  it('marks an unknown kid of a trusted issuer, so the caller may fetch a fresher trust list', async () => {
    const r = await check(await signFareRequest(claims(), issuerKey().signer));
    expect(r).to.deep.equal({
      ok: false,
      code: 'FARE_SIGNATURE_INVALID',
      message: 'the trust list has no such key',
      unknownKid: true,
    });
  });

  it("refuses a request signed more than 60 s ahead of the provider's clock, or living longer than 300 s, as FARE_MALFORMED", async () => {
    expect(await check(await signFareRequest(claims({ iat: NOW + 61, exp: NOW + 361 }), current.signer))).to.include({
      ok: false,
      code: 'FARE_MALFORMED',
      message: 'iat is in the future',
    });
    expect(await check(await signFareRequest(claims({ iat: NOW + 60, exp: NOW + 360 }), current.signer))).to.include({
      ok: true,
    });
    expect(await check(await signFareRequest(claims({ exp: NOW + 301 }), current.signer))).to.include({
      ok: false,
      code: 'FARE_MALFORMED',
    });
  });

  it('refuses a request at its exp, with no tolerance, as FARE_EXPIRED', async () => {
    const jws = await signFareRequest(claims(), current.signer);
    expect(await check(jws, NOW + 299)).to.include({ ok: true });
    expect(await check(jws, NOW + 300)).to.include({ ok: false, code: 'FARE_EXPIRED' });
  });

  it('refuses claims of the wrong type (amount not whole fen, another currency, a missing token) as FARE_MALFORMED, before any key is looked at', async () => {
    for (const over of [{ amount: 1.5 }, { amount: 0 }, { currency: 'USD' }, { token: '' }, { lookup: -1 }] as Array<
      Partial<FareClaims>
    >) {
      const r = await check(await signFareRequest(claims(over), revoked.signer));
      expect(r, JSON.stringify(over)).to.include({ ok: false, code: 'FARE_MALFORMED' });
    }
  });

  it('never throws for input that is not a JWS', async () => {
    for (const junk of [
      undefined,
      null,
      42,
      '',
      'a.b.c',
      '..',
      'x'.repeat(5000),
      `${Buffer.from('[]').toString('base64url')}.e30.AA`,
    ]) {
      expect(await check(junk), String(junk).slice(0, 20)).to.include({ ok: false, code: 'FARE_MALFORMED' });
    }
  });
});
