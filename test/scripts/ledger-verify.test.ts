import { expect } from 'chai';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import { runLedgerVerify } from '../support/service';
import { tempDir } from '../support/tmp';

const ledgerVerify = (cwd: string, args: string[], env: NodeJS.ProcessEnv) =>
  runLedgerVerify(args, { DATA_DIR: undefined, ...env }, cwd);

describe('npm run ledger:verify (scripts/ledger-verify.ts)', function () {
  this.timeout(60_000);
  let tmp: { dir: string; cleanup: () => void };

  before(async () => {
    // A working folder laid out as npm start leaves it: the ledger in ./data/ledger.
    tmp = tempDir('ankang-ledger-verify-');
    const ledger = await Ledger.open(join(tmp.dir, 'data', 'ledger'));
    for (let i = 0; i < 3; i++)
      await ledger.transact((tx) =>
        tx.append({ type: 'test.event', subjects: ['r:a'], data: { i } }).then(() => undefined),
      );
    await ledger.close();
  });

  after(() => tmp.cleanup());

  it('checks ./data when given neither --data-dir nor DATA_DIR, like npm start', async () => {
    const r = await ledgerVerify(tmp.dir, [], {});
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^ok: 3 events, 1 subjects, head 3 [0-9a-f]{64}\n$/);
  });

  it('takes an empty DATA_DIR as unset', async () => {
    expect((await ledgerVerify(tmp.dir, [], { DATA_DIR: '' })).code).to.equal(0);
  });

  it('prefers DATA_DIR, and --data-dir over both, naming the folder and where it came from when there is no ledger', async () => {
    const byEnv = await ledgerVerify(tmp.dir, [], { DATA_DIR: 'elsewhere' });
    expect(byEnv.code).to.equal(2);
    expect(byEnv.stderr).to.equal(
      `no ledger in ${join(tmp.dir, 'elsewhere')} (DATA_DIR); give the service's data folder with --data-dir <dir> or DATA_DIR\n`,
    );
    const byArg = await ledgerVerify(tmp.dir, ['--data-dir', 'data'], { DATA_DIR: 'elsewhere' });
    expect(byArg.code, byArg.stderr).to.equal(0);
    const byDefault = await ledgerVerify(join(tmp.dir, 'data'), [], {});
    expect(byDefault.code).to.equal(2);
    expect(byDefault.stderr).to.include('(the default)');
  });

  it('prints its usage and exits 2 for an argument it does not know', async () => {
    const r = await ledgerVerify(tmp.dir, ['--data'], {});
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(
      /^usage: npm run ledger:verify \[-- --data-dir <dir>\] {3}\(default: DATA_DIR, else \.\/data\)\n$/,
    );
  });
});
