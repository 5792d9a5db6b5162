'use strict';
// mocha's spec output, followed by one summary line that CI reads:
// "tests: N passed, M failed" (pending tests are neither).
const Mocha = require('mocha');
const { Spec } = Mocha.reporters;
const { EVENT_RUN_END } = Mocha.Runner.constants;

class CountReporter extends Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const { passes, failures } = runner.stats;
      process.stdout.write(`tests: ${passes} passed, ${failures} failed\n`);
    });
  }
}

module.exports = CountReporter;
