'use strict';
// One place for how the suite runs: TypeScript through tsx's CommonJS hook, every
// *.test.ts under test/, and a reporter that ends with the line CI reads.
module.exports = {
  require: ['tsx/cjs'],
  spec: ['test/**/*.test.ts'],
  extension: ['ts'],
  reporter: './test/support/count-reporter.js',
  timeout: 60000,
  exit: true,
};
