'use strict';
// How the suite runs: TypeScript through tsx's CommonJS hook and a reporter that ends
// with the line CI reads. The file list is in package.json's "test" script, so that
// `npx mocha test/x.test.ts` runs just that file.
module.exports = {
  require: ['tsx/cjs'],
  extension: ['ts'],
  reporter: './test/support/count-reporter.js',
  timeout: 60000,
  exit: true,
};
