import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Command, type Context, displayUrl } from '../context.js';

/** The only address the command serves on: the dashboard is for the operator at this machine. */
const HOST = '127.0.0.1';

export const dashboardCommand: Command = {
  name: 'dashboard',
  summary: 'Serve a web dashboard of the store on 127.0.0.1 (read-only unless --write)',
  usesStore: true,
  options: {
    port: { type: 'string', short: 'p' },
    write: { type: 'boolean' },
  },
  help: `Usage: mcp-session dashboard [options]

Serves @mcp-session/dashboard for the store on http://127.0.0.1 and prints its URL, which carries a token
made for this run (32 random bytes). Open that URL: the page moves the token into a cookie and every
request must present it. Requests to any other host name, or from another origin, are refused. Stop it with
Ctrl-C: the store is closed and the command exits 0.

The dashboard is read-only unless --write is given; with it, a session can be closed and a sweep run,
each after a confirmation. It shows storage ids (digests), never raw session ids.

Options:
  -p, --port <n>   the port to listen on (default: a free port the system picks)
  --write          allow closing sessions and running a sweep (each asks for confirmation)

With --json the URL is printed as {"url", "port", "write", "store"} once the server listens.

Examples:
  mcp-session dashboard --store sqlite:./data/sessions.db
  mcp-session dashboard --store postgres://app@db.internal/app?schema=mcp --port 8080 --write`,

  async run(context: Context): Promise<number> {
    const { args } = context;
    args.expectPositionals([]);
    const port = args.integer('port', 0, 0, 65_535);
    const write = args.flag('write');
    const url = context.storeUrl();
    const store = await context.open(url, { mustExist: true });
    const token = randomBytes(32).toString('base64url');
    // Loaded here, not at start-up: every other command runs without the dashboard and its assets.
    const { createDashboard } = await import('@mcp-session/dashboard');
    const dashboard = createDashboard({ store, token, write });
    const server = createServer(dashboard.nodeListener);
    server.listen(port, HOST);
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([error]) => {
        throw error;
      }),
    ]);
    try {
      const listening = (server.address() as AddressInfo).port;
      const link = `http://${HOST}:${listening}/?token=${token}`;
      if (context.json) {
        await context.printJson({ url: link, port: listening, write, store: displayUrl(url) });
      } else {
        await context.print(
          `Dashboard of ${displayUrl(url)} (${write ? 'write mode' : 'read-only'}):\n\n  ${link}\n`,
        );
      }
      context.note(
        'The URL holds the token for this run; anyone with it can see every session. Ctrl-C stops.',
      );
      await stopped(context.io.signal);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    return 0;
  },
};

/** Resolves when the signal fires (the first Ctrl-C); without one, never: a server runs until stopped. */
function stopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
}
