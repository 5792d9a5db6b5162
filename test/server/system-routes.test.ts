import { expect } from 'chai';
import { startTestService, type TestService } from '../support/service';

/**
 * /healthz, /readyz, /metrics and /v1/openapi.json: anyone may call them, they hold no one's
 * data, and they sit outside the per-address abuse limits (load balancers and scrapers poll
 * them). What keeps a flood of them harmless is that they write nothing and stay cheap.
 */
describe('the public system routes under a flood', function () {
  this.timeout(120_000);
  let svc: TestService;
  let staff: string;

  before(async () => {
    svc = await startTestService();
    staff = await svc.token('health');
  });
  after(() => svc?.stop());

  for (const path of ['/readyz', '/metrics', '/v1/openapi.json', '/healthz']) {
    it(`${path}: 300 requests at once all answer, write nothing, and need no token (a token of any role changes nothing)`, async () => {
      const before = await svc.head();
      const statuses = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          fetch(svc.url + path, i % 2 ? { headers: { authorization: `Bearer ${staff}` } } : {}).then(
            async (r) => (await r.arrayBuffer(), r.status),
          ),
        ),
      );
      expect(new Set(statuses)).to.deep.equal(new Set([200]));
      expect(await svc.head()).to.deep.equal(before);
      expect((await fetch(`${svc.url}/healthz`)).status).to.equal(200);
    });
  }
});
