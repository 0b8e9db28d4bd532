#!/usr/bin/env node
import { runCli } from './cli.js';

const controller = new AbortController();
let signals = 0;
const stop = (signal: NodeJS.Signals) => {
  signals++;
  if (signals === 1) {
    controller.abort();
    process.stderr.write(
      `\nmcp-session: ${signal}: stopping after the sessions in flight (again to quit at once)\n`,
    );
  } else {
    // Every write is atomic per session, so quitting mid-way loses nothing but the work in flight.
    process.exit(130);
  }
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

process.exitCode = await runCli(process.argv.slice(2), { signal: controller.signal });
process.off('SIGINT', stop);
process.off('SIGTERM', stop);
