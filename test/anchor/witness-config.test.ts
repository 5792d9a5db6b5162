import { expect } from 'chai';
import { parseWitnessFor } from '../../anchor/witness-runner';
import { loadConfig } from '../../server/config';

const TOKEN = 'ak_witness_QWxpY2UtcHNldWRvbnltMQ';

describe('WITNESS_FOR', () => {
  it('lists issuers with the witness token each issued, and optionally where its service is', () => {
    expect(parseWitnessFor(`320000=${TOKEN}, 310000=${TOKEN}x@https://sh.example/`)).to.deep.equal([
      { issuer: '320000', token: TOKEN },
      { issuer: '310000', token: `${TOKEN}x`, url: 'https://sh.example/' },
    ]);
    expect(parseWitnessFor('')).to.deep.equal([]);
  });

  for (const bad of [
    '320000',
    `32000=${TOKEN}`,
    `320000=short`,
    `320000=${TOKEN}@ftp://x`,
    `320000=${TOKEN},320000=${TOKEN}`,
  ]) {
    it(`refuses ${JSON.stringify(bad.replaceAll(TOKEN, '<token>'))}, without echoing the token`, () => {
      expect(() => parseWitnessFor(bad))
        .to.throw(Error)
        .that.satisfies((e: Error) => !e.message.includes(TOKEN));
    });
  }

  it("is refused by the configuration when it names the service's own issuer, or when there is no chain", () => {
    expect(() =>
      loadConfig({ ISSUER_ID: '340000', CHAIN_RPC_URL: 'http://127.0.0.1:1', WITNESS_FOR: `340000=${TOKEN}` }),
    ).to.throw(/WITNESS_FOR: an issuer cannot witness itself/);
    expect(() => loadConfig({ ISSUER_ID: '340000', WITNESS_FOR: `320000=${TOKEN}` })).to.throw(
      /WITNESS_FOR: witnessing needs a chain/,
    );
    expect(
      loadConfig({ ISSUER_ID: '340000', CHAIN_RPC_URL: 'http://127.0.0.1:1', WITNESS_FOR: `320000=${TOKEN}` })
        .WITNESS_FOR,
    ).to.deep.equal([{ issuer: '320000', token: TOKEN }]);
    expect(loadConfig({}).WITNESS_FOR).to.deep.equal([]);
  });
});
