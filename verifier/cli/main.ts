import { processIo } from './io';
import { run } from './run';

// exitCode rather than process.exit(), so piped stdout is flushed before the process ends.
void run(process.argv.slice(2), processIo()).then((status) => {
  process.exitCode = status;
});
