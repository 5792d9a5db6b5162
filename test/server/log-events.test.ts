import { expect } from 'chai';
import { startTestService, type TestService } from '../support/service';

/**
 * GET /v1/log/events, how often: each witness or auditor token reads at most
 * RATE_LOG_PER_TOKEN pages a window (who may read it, and whose data, are in
 * test/server/permissions.test.ts and test/anchor/e2e-witness.test.ts).
 */
describe('GET /v1/log/events: pages per token (RATE_LOG_PER_TOKEN)', function () {
  this.timeout(60_000);
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ config: { RATE_LOG_PER_TOKEN: 3 } });
  });
  after(async () => svc?.close());

  it('answers a token its pages up to the limit, then 429 with Retry-After; another token reads on, and no token is 401', async () => {
    const witness = await svc.token('witness');
    const auditor = await svc.token('auditor');
    const read = (token?: string) => svc.call('GET', '/v1/log/events?from=1&limit=10', token ? { token } : {});
    for (let i = 0; i < 3; i++) {
      const r = await read(witness);
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body.events.length).to.be.greaterThan(0);
    }
    const over = await read(witness);
    expect(over.status).to.equal(429);
    expect(over.body.error.code).to.equal('TOO_MANY_REQUESTS');
    expect(over.body).to.not.have.property('events');
    expect(Number(over.headers.get('retry-after'))).to.be.greaterThan(0);
    expect((await read(auditor)).status).to.equal(200);
    expect((await read()).status).to.equal(401);
  });
});
