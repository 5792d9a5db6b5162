import { Session } from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The service (server/main.ts) under the V8 CPU profiler, for request-costs.ts: Node 20 does
 * not take `--cpu-prof` in NODE_OPTIONS. Writes `service-<pid>.cpuprofile` (open it in Chrome
 * DevTools or speedscope) into COSTS_PROFILE_DIR when the process exits.
 */
const dir = process.env.COSTS_PROFILE_DIR ?? '.';
const session = new Session();
session.connect();
session.post('Profiler.setSamplingInterval', { interval: 200 });
session.post('Profiler.enable');
session.post('Profiler.start');
// An in-thread session answers synchronously, so this works inside 'exit'.
process.on('exit', () => {
  session.post('Profiler.stop', (err, result) => {
    if (err) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `service-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
// Loaded after the profiler started, so the service's start-up is profiled too (an import would be hoisted above it).
// eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberately after the profiler starts
require('../../server/main');
