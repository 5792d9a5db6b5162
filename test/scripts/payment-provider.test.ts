import { expect } from 'chai';
import { generateKeyPairSync, sign } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { startPaymentProvider, type PaymentProviderProcess } from '../../scripts/lib/payment-provider-process';
import { until } from '../../scripts/lib/wait';
import { fareRequestId, signFareRequest, type FareClaims } from '../../server/services/fare';
import type { Signer } from '../../verifier/src';
import { applicant, apply, startTestService, WallClock, type TestService } from '../support/service';
import { tempDir } from '../support/tmp';

const OPERATOR_KEY = 'metro-line-1-key';

describe('the stand-in payment provider (scripts/payment-provider.ts, docs/payment-provider.md)', function () {
  this.timeout(120_000);
  let svc: TestService;
  let provider: PaymentProviderProcess;
  let tmp: ReturnType<typeof tempDir>;
  let dataFile: string;
  let env: Parameters<typeof startPaymentProvider>[0];

  const nowS = () => Math.floor(Date.now() / 1000);
  const signer = () => svc.running.app.keys.active().signer;

  function claims(over: Partial<FareClaims>): FareClaims {
    const iat = nowS();
    return {
      iss: svc.running.app.config.ISSUER_ID,
      jti: fareRequestId(),
      iat,
      exp: iat + 300,
      provider: 'standin-pay',
      token: 'pay_none',
      amount: 200,
      currency: 'CNY',
      desk: 'dsk_test',
      venue: 'ven_test',
      lookup: 1,
      ...over,
    };
  }

  async function call(
    method: string,
    path: string,
    body?: unknown,
    key: string | null = OPERATOR_KEY,
  ): Promise<{ status: number; headers: Headers; body: any }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (key) headers.authorization = `Bearer ${key}`;
    const res = await fetch(provider.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: await res.json() };
  }

  const submit = (fareRequest: string, key: string | null = OPERATOR_KEY) =>
    call('POST', '/v1/fares', { fareRequest }, key);

  async function openAccount(balance: number): Promise<string> {
    const r = await call('POST', '/v1/accounts', { balance }, null);
    expect(r.status).to.equal(201);
    return r.body.token;
  }

  const balanceOf = async (token: string) =>
    (await call('GET', `/v1/accounts/${token}`, undefined, null)).body.balance as number;

  before(async () => {
    tmp = tempDir('ankang-provider-');
    dataFile = join(tmp.dir, 'provider.json');
    // The provider judges exp by its own clock: the service's must be the wall clock too.
    svc = await startTestService({ clock: new WallClock() });
    env = {
      ANKANG_URL: svc.url,
      ANKANG_FEED_TOKEN: await svc.token('feed', { source: 'payment' }),
      OPERATOR_KEYS: `bus-company-key,${OPERATOR_KEY}`,
      DATA_FILE: dataFile,
    };
    provider = await startPaymentProvider(env);
  });

  after(async () => {
    await provider?.stop();
    await svc?.close();
    tmp?.cleanup();
  });

  it('says it is a stand-in that moves no money, in its ready line and in every answer', async () => {
    const ready = JSON.parse(provider.lines[0]);
    expect(ready).to.include({ msg: 'ready', url: provider.url, provider: 'standin-pay' });
    expect(ready.server).to.match(/stand-in payment provider — not a real one; it moves no money/);
    for (const r of [await call('GET', '/healthz'), await call('GET', '/nowhere'), await submit('x', null)]) {
      expect(r.headers.get('server')).to.equal('ankang stand-in payment provider - not a real one; it moves no money');
    }
  });

  it('charges a fare request the issuer signed once: a receipt, and the balance falls by the amount', async () => {
    const token = await openAccount(1000);
    const c = claims({ token, amount: 300 });
    const r = await submit(await signFareRequest(c, signer()));
    expect(r.status).to.equal(201);
    expect(r.body.receipt).to.include({ jti: c.jti, amount: 300, currency: 'CNY', balance: 700 });
    expect(r.body.receipt.id).to.match(/^rcp_/);
    expect(Date.parse(r.body.receipt.paidAt)).to.be.closeTo(Date.now(), 60_000);
    const account = (await call('GET', `/v1/accounts/${token}`, undefined, null)).body;
    expect(account.balance).to.equal(700);
    expect(
      account.charges.map((x: { jti: string; desk: string; lookup: number }) => [x.jti, x.desk, x.lookup]),
    ).to.deep.equal([[c.jti, 'dsk_test', 1]]);
  });

  it('refuses the same fare request again with 409 FARE_REPLAYED and charges nothing', async () => {
    const token = await openAccount(1000);
    const jws = await signFareRequest(claims({ token }), signer());
    expect((await submit(jws)).status).to.equal(201);
    const again = await submit(jws);
    expect(again.status).to.equal(409);
    expect(again.body.error.code).to.equal('FARE_REPLAYED');
    expect(await balanceOf(token)).to.equal(800);
  });

  it('refuses an expired fare request with 410 FARE_EXPIRED', async () => {
    const token = await openAccount(1000);
    const r = await submit(await signFareRequest(claims({ token, iat: nowS() - 30, exp: nowS() - 1 }), signer()));
    expect(r.status).to.equal(410);
    expect(r.body.error.code).to.equal('FARE_EXPIRED');
    expect(await balanceOf(token)).to.equal(1000);
  });

  it('refuses a tampered payload, and a request signed by another key under the same kid, with 401 FARE_SIGNATURE_INVALID', async () => {
    const token = await openAccount(1000);
    const [h, , s] = (await signFareRequest(claims({ token, amount: 900 }), signer())).split('.');
    const cheaper = Buffer.from(JSON.stringify(claims({ token, amount: 1 }))).toString('base64url');
    const { privateKey } = generateKeyPairSync('ed25519');
    const impostor: Signer = { kid: signer().kid, sign: (d) => new Uint8Array(sign(null, d, privateKey)) };
    for (const jws of [`${h}.${cheaper}.${s}`, await signFareRequest(claims({ token }), impostor)]) {
      const r = await submit(jws);
      expect(r.status).to.equal(401);
      expect(r.body.error.code).to.equal('FARE_SIGNATURE_INVALID');
    }
    expect(await balanceOf(token)).to.equal(1000);
  });

  it('refuses a request addressed to another provider with 400 FARE_MALFORMED (it is signed, but not for this provider)', async () => {
    const token = await openAccount(1000);
    const r = await submit(await signFareRequest(claims({ token, provider: 'other-pay' }), signer()));
    expect(r.status).to.equal(400);
    expect(r.body.error).to.deep.equal({
      code: 'FARE_MALFORMED',
      message: 'the fare request is addressed to another provider',
    });
    expect(await balanceOf(token)).to.equal(1000);
  });

  it('refuses what is not a fare request with 400 FARE_MALFORMED', async () => {
    const good = await signFareRequest(claims({}), signer());
    const [, p, s] = good.split('.');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'ankang-fare+jwt', kid: 'AAAAAAAAAAA' })).toString(
      'base64url',
    );
    for (const body of [{}, { fareRequest: 42 }, { fareRequest: 'a.b' }, { fareRequest: `${none}.${p}.${s}` }]) {
      const r = await call('POST', '/v1/fares', body);
      expect(r.status, JSON.stringify(body)).to.equal(400);
      expect(r.body.error.code).to.equal('FARE_MALFORMED');
    }
  });

  it('answers 404 ACCOUNT_UNKNOWN for a token it never issued, and 402 INSUFFICIENT_FUNDS when the balance is too low', async () => {
    const unknown = await submit(await signFareRequest(claims({ token: 'pay_nobody_has_this' }), signer()));
    expect(unknown.status).to.equal(404);
    expect(unknown.body.error.code).to.equal('ACCOUNT_UNKNOWN');
    const token = await openAccount(150);
    const jws = await signFareRequest(claims({ token, amount: 200 }), signer());
    const poor = await submit(jws);
    expect(poor.status).to.equal(402);
    expect(poor.body.error.code).to.equal('INSUFFICIENT_FUNDS');
    expect(await balanceOf(token)).to.equal(150);
  });

  it('answers 401 UNAUTHENTICATED without a transit operator key or with a wrong one, and charges nothing', async () => {
    const token = await openAccount(1000);
    const jws = await signFareRequest(claims({ token }), signer());
    for (const key of [null, 'metro-line-1-kez', `${OPERATOR_KEY}x`]) {
      const r = await submit(jws, key);
      expect(r.status).to.equal(401);
      expect(r.body.error.code).to.equal('UNAUTHENTICATED');
    }
    expect(await balanceOf(token)).to.equal(1000);
    expect((await submit(jws, 'bus-company-key')).status).to.equal(201);
  });

  it('after a key rotation, takes the new key from a fresh trust list, and refuses the retired key for anything signed after it retired', async () => {
    const token = await openAccount(1000);
    const before = signer();
    // The provider holds a trust list from here on.
    expect((await submit(await signFareRequest(claims({ token, amount: 10 }), before))).status).to.equal(201);
    const rotated = await svc.call('POST', '/v1/admin/keys/rotate', { token: svc.adminToken });
    expect(rotated.status).to.equal(201);
    const after = signer();
    expect(Buffer.from(after.kid).toString('base64url')).to.equal(rotated.body.kid);
    const jws = await signFareRequest(claims({ token, amount: 20 }), after);
    // An unknown kid refreshes the list, at most once per 10 s: it verifies within that.
    const r = await until(
      'the new key to verify',
      async () => {
        const x = await submit(jws);
        return x.status === 201 ? x : undefined;
      },
      20_000,
      500,
    );
    expect(r.body.receipt.balance).to.equal(970);
    const iat = nowS() + 2;
    const late = await submit(await signFareRequest(claims({ token, iat, exp: iat + 300 }), before));
    expect(late.status).to.equal(401);
    expect(late.body.error).to.deep.equal({
      code: 'FARE_SIGNATURE_INVALID',
      message: 'the key was not valid when the request was signed',
    });
  });

  it('stops on SIGINT with exit code 0 and, restarted on its data file (0600), still holds balances and refuses a charged request', async () => {
    const token = await openAccount(500);
    const jws = await signFareRequest(claims({ token, amount: 100 }), signer());
    expect((await submit(jws)).status).to.equal(201);
    expect(await provider.stop('SIGINT')).to.deep.equal({ code: 0, signal: null });
    expect(statSync(dataFile).mode & 0o777).to.equal(0o600);
    provider = await startPaymentProvider(env);
    expect(await balanceOf(token)).to.equal(400);
    const again = await submit(jws);
    expect(again.status).to.equal(409);
    expect(again.body.error.code).to.equal('FARE_REPLAYED');
  });

  describe('linking an account to a resident who asked for it (POST /v1/accounts with a requestId)', () => {
    it("confirms the link request at Ankang: the resident sees payment linked with provider standin-pay and the token's last four characters", async () => {
      const person = applicant();
      const applied = await apply(svc, person);
      expect(applied.status).to.equal(201);
      const asked = await svc.call('POST', '/v1/residents/me/links/requests', {
        token: applied.token,
        json: { kind: 'payment' },
      });
      expect(asked.status).to.equal(201);
      const r = await call(
        'POST',
        '/v1/accounts',
        { requestId: asked.body.requestId, idType: person.idType, idNumber: person.idNumber, balance: 2000 },
        null,
      );
      expect(r.status).to.equal(201);
      expect(r.body).to.include({ balance: 2000, linked: true });
      const links = await svc.call('GET', '/v1/residents/me/links', { token: applied.token });
      const payment = links.body.links.find((l: { kind: string }) => l.kind === 'payment');
      expect(payment).to.include({
        linked: true,
        provider: 'standin-pay',
        refHint: (r.body.token as string).slice(-4),
      });
    });

    it("answers Ankang's refusal as its own and opens no account when the request names someone else", async () => {
      const person = applicant();
      const applied = await apply(svc, person);
      const asked = await svc.call('POST', '/v1/residents/me/links/requests', {
        token: applied.token,
        json: { kind: 'payment' },
      });
      const other = applicant();
      expect((await apply(svc, other)).status).to.equal(201);
      const r = await call(
        'POST',
        '/v1/accounts',
        { requestId: asked.body.requestId, idType: other.idType, idNumber: other.idNumber },
        null,
      );
      expect(r.status).to.equal(404);
      expect(r.body.error.code).to.equal('NOT_FOUND');
      expect(r.body).to.not.have.property('token');
      const links = await svc.call('GET', '/v1/residents/me/links', { token: applied.token });
      expect(links.body.links.find((l: { kind: string }) => l.kind === 'payment')).to.include({ linked: false });
    });
  });
});
