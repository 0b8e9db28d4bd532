import { redactUrl } from '@mcp-session/core';
import { loadConfig } from './config.js';
import { describeError } from './log.js';
import { startReferenceServer } from './server.js';

const SHUTDOWN_GRACE_MS = 10_000;

const config = loadConfig();
const app = await startReferenceServer(config);
console.log(
  `mcp-session reference server listening on ${app.url} ` +
    `(store ${redactUrl(config.storeUrl)}, instance ${config.instanceName}, ` +
    `${config.tokens.size > 0 ? `${config.tokens.size} bearer tokens` : 'no authentication'}, ` +
    `/metrics ${config.metricsToken === undefined ? 'open' : 'behind METRICS_TOKEN'}, ` +
    `${config.encryption === undefined ? 'context and history in clear' : `context and history encrypted with key "${config.encryption.currentKeyId}"`})`,
);
if (config.tokens.size === 0) {
  console.warn('No MCP_TOKENS / MCP_TOKENS_FILE: sessions are not bound to any user.');
}
if (config.metricsToken === undefined) {
  console.warn('No METRICS_TOKEN: /metrics is readable by anyone who can reach this port.');
}

// Every signal after the first is ignored: the shutdown is already bounded by SHUTDOWN_GRACE_MS, and a
// Ctrl-C reaches this process twice under `pnpm start` (once from the terminal's process group, once
// forwarded by pnpm), which with `once` killed it by the default action mid-close.
let closing = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    console.log(`${signal}: closing transports; sessions stay in the store`);
    setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS).unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`shutdown failed: ${describeError(error)}`);
        process.exit(1);
      },
    );
  });
}
