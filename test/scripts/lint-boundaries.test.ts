import { expect } from 'chai';
import { resolve } from 'node:path';
import { ESLint, type Linter } from 'eslint';

const ROOT = resolve(__dirname, '..', '..');
const RULE = 'ankang/layer-boundaries';

// The repo's own eslint.config.mjs, run on source text given a path in the tree: the path alone
// decides which layer the text belongs to, so nothing is written into the source folders.
const eslint = new ESLint({ cwd: ROOT });

/** The boundary findings (other rules' findings left out) for `code` as if it were the file `file`. */
async function boundaries(file: string, code: string): Promise<Linter.LintMessage[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(ROOT, file) });
  return result.messages.filter((m) => m.ruleId === RULE || m.fatal);
}

describe('the layer boundaries (eslint.config.mjs, scripts/lint/layer-boundaries.mjs)', () => {
  describe('when a new file in anchor/ imports server/', () => {
    it('reports an error naming the layer and the target', async () => {
      const found = await boundaries(
        'anchor/boundary-fixture.ts',
        "import { startService } from '../server/bootstrap';\nvoid startService;\n",
      );
      expect(found).to.have.length(1);
      expect(found[0].severity).to.equal(2);
      expect(found[0].line).to.equal(1);
      expect(found[0].message).to.include('anchor/ may not import server/bootstrap');
    });

    it('sees every way of importing: import type, export from, require, import() and import types', async () => {
      const code = [
        "import type { Logger } from '../server/http/log';",
        "export { loadConfig } from '../server/config';",
        "export * from '../server/errors';",
        "const keys = require('../server/issuer/keys');",
        "const later = import('../server/context');",
        "type Ctx = import('../server/context').AppContext;",
        "import secrets = require('../server/crypto/secrets');",
        'export const all = [keys, later, secrets] as unknown as [Logger, Ctx];',
      ].join('\n');
      const found = await boundaries('anchor/boundary-fixture.ts', code);
      expect(found.map((m) => m.line)).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
      expect(found.every((m) => m.severity === 2)).to.equal(true);
    });

    it('reports it from a nested folder too', async () => {
      const found = await boundaries('anchor/sub/boundary-fixture.ts', "import '../../server/ledger/ledger';\n");
      expect(found.map((m) => m.message)).to.deep.equal([
        'anchor/ may not import server/ledger/ledger (anchor/ uses verifier/src and the ledger, never server/ or an entry point); move what both need down a layer.',
      ]);
    });
  });

  it('lets anchor/ import verifier/src, the ledger and its own files', async () => {
    const code =
      "import { sizeProofPlan } from '../verifier/src/merkle';\nimport { Ledger } from '../ledger/ledger';\nimport { backoff } from './backoff';\nexport { sizeProofPlan, Ledger, backoff };\n";
    expect(await boundaries('anchor/boundary-fixture.ts', code)).to.deep.equal([]);
  });

  it('refuses anchor/ the CLI (verifier/cli/)', async () => {
    const found = await boundaries(
      'anchor/boundary-fixture.ts',
      "import { connectRegistry } from '../verifier/cli/chain';\nvoid connectRegistry;\n",
    );
    expect(found.map((m) => m.message)).to.have.length(1);
  });

  it('keeps verifier/ from importing anything of the repo outside verifier/', async () => {
    const outside = [
      '../../server/config',
      '../../anchor/registry',
      '../../ledger/ledger',
      '../../scripts/lib/sign-in',
      '../../web/src/lib/i18n',
      '../../test/support/tmp',
      '../../package.json',
    ];
    const code =
      outside.map((p, i) => `import * as m${i} from '${p}';`).join('\n') +
      `\nexport const all = [${outside.map((_, i) => `m${i}`).join(', ')}];\n`;
    const found = await boundaries('verifier/src/boundary-fixture.ts', code);
    expect(found.map((m) => m.line)).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
    expect(found[0].message).to.include('verifier/ may not import server/config');
  });

  it('lets verifier/cli import verifier/src and the package file', async () => {
    const code =
      "import { verifyCode } from '../src';\nimport { version } from '../package.json';\nexport { verifyCode, version };\n";
    expect(await boundaries('verifier/cli/boundary-fixture.ts', code)).to.deep.equal([]);
  });

  it('keeps ledger/ from importing anchor/ or server/, and lets it use verifier/src', async () => {
    const code =
      "import { Anchorer } from '../anchor/anchorer';\nimport { ServiceError } from '../server/errors';\nimport { hashLeaf } from '../verifier/src/merkle';\nexport { Anchorer, ServiceError, hashLeaf };\n";
    const found = await boundaries('ledger/boundary-fixture.ts', code);
    expect(found.map((m) => m.line)).to.deep.equal([1, 2]);
    expect(found[0].message).to.include('ledger/ may not import anchor/anchorer');
  });

  it('keeps server/ from the CLI, scripts/ and the pages, and lets it use verifier/src, the ledger, anchor/ and its own files', async () => {
    const code = [
      "import { renderQrPng } from '../../verifier/cli/qr';",
      "import { verifyCode } from '../../verifier/src';",
      "import { Ledger } from '../../ledger/ledger';",
      "import { Anchorer } from '../../anchor/anchorer';",
      "import { ServiceError } from '../errors';",
      "import { signIn } from '../../scripts/lib/sign-in';",
      "import { t } from '../../web/src/lib/i18n';",
      'export { renderQrPng, verifyCode, Ledger, Anchorer, ServiceError, signIn, t };',
    ].join('\n');
    const found = await boundaries('server/routes/boundary-fixture.ts', code);
    expect(found.map((m) => m.line)).to.deep.equal([1, 6, 7]);
    expect(found[0].message).to.include('server/ may not import verifier/cli/qr');
  });

  it('keeps web/ from server/, anchor/ and the ledger, and lets the pages use verifier/src', async () => {
    const code = [
      "import type { Config } from '../../../server/config';",
      "import { Anchorer } from '../../../anchor/anchorer';",
      "import { Ledger } from '../../../ledger/ledger';",
      "import type * as Verifier from '../../../verifier/src';",
      'export type All = [Config, Anchorer, Ledger, typeof Verifier];',
    ].join('\n');
    const found = await boundaries('web/src/pages/boundary-fixture.ts', code);
    expect(found.map((m) => m.line)).to.deep.equal([1, 2, 3]);
  });

  it('leaves tests, scripts and package imports alone', async () => {
    const code =
      "import { startService } from '../../server/bootstrap';\nimport { run } from '../../verifier/cli/run';\nexport { startService, run };\n";
    expect(await boundaries('test/server/boundary-fixture.ts', code)).to.deep.equal([]);
    expect(await boundaries('scripts/demo/boundary-fixture.ts', code)).to.deep.equal([]);
    expect(
      await boundaries('anchor/boundary-fixture.ts', "import server from 'server';\nexport default server;\n"),
    ).to.deep.equal([]);
  });
});
