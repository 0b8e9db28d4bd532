import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auth,
  openSse,
  postHeaders,
  rawCallTool,
  rawConnection,
  rawInitialize,
  type ServerProcess,
  sqliteStore,
  startServer,
  stopAllServers,
  type TestStore,
  TOKENS_ENV,
} from './helpers.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const stores: TestStore[] = [];

afterAll(async () => {
  await stopAllServers();
  for (const store of stores) await store.cleanup();
});

async function start(env: Record<string, string> = {}): Promise<ServerProcess> {
  const store = await sqliteStore();
  stores.push(store);
  return startServer({ SESSION_STORE_URL: store.url, MCP_TOKENS: TOKENS_ENV, ...env });
}

/** The value of one sample line (`name` or `name{labels}`) of an exposition. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('/metrics', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await start({
      METRICS_TOKEN,
      // One refresh at start and none during the test: every scrape below is served from that one.
      METRICS_REFRESH_INTERVAL_MS: String(60 * 60_000),
      INSTANCE_NAME: 'hardening',
    });
  });

  it('refuses a scrape without the token or with a wrong one (401, WWW-Authenticate: Bearer), serves it with the token', async () => {
    const url = `${server.base}/metrics`;
    const missing = await fetch(url);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer realm="metrics"/);
    expect(await missing.text()).not.toContain('mcp_');
    const wrong = await fetch(url, { headers: { authorization: `Bearer ${METRICS_TOKEN}0` } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer realm="metrics"/);
    // An MCP token is not the metrics token.
    expect((await fetch(url, { headers: auth('alice') })).status).toBe(401);

    const right = await fetch(url, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(right.status).toBe(200);
    expect(right.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await right.text();
    expect(text).toMatch(/^# TYPE mcp_sessions gauge$/m);
    expect(text).toMatch(/^mcp_live_sessions\{instance="hardening"\} \d+$/m);
    expect(server.output.join('')).toContain('/metrics behind METRICS_TOKEN');
    expect(server.output.join('')).not.toContain('No METRICS_TOKEN');
  });

  it('serves store gauges from the cached aggregate: scrapes never recompute it (pins: every scrape aggregated the whole store)', async () => {
    const scrape = async () =>
      (
        await fetch(`${server.base}/metrics`, {
          headers: { authorization: `Bearer ${METRICS_TOKEN}` },
        })
      ).text();
    const before = await scrape();
    const active = sample(before, 'mcp_sessions{state="active"}');
    const created = sample(before, 'mcp_sessions_created_total{instance="hardening"}') ?? 0;
    expect(active).toBeDefined();
    const { status } = await rawInitialize(server.url, auth('alice'));
    expect(status).toBe(200);

    const after = await scrape();
    // The counters are live…
    expect(sample(after, 'mcp_sessions_created_total{instance="hardening"}')).toBe(created + 1);
    // …the store gauge is the aggregate computed at start-up, whatever the scrapes.
    expect(sample(after, 'mcp_sessions{state="active"}')).toBe(active);
    expect(sample(after, 'mcp_store_stats_age_seconds{instance="hardening"}')).toBeGreaterThan(0);
  });

  it('says in the start-up log that /metrics is open without METRICS_TOKEN', async () => {
    const open = await start();
    expect((await fetch(`${open.base}/metrics`)).status).toBe(200);
    expect(open.output.join('')).toContain(
      'No METRICS_TOKEN: /metrics is readable by anyone who can reach this port.',
    );
    await open.stop();
  });
});

describe('HTTP limits', () => {
  it('closes a connection whose headers or body do not arrive in time (408), while an SSE stream opened earlier lives on', async () => {
    const server = await start({
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      HTTP_REQUEST_TIMEOUT_MS: '1500',
    });
    const { sessionId } = await rawInitialize(server.url, auth('alice'));
    const stream = await openSse(server.url, { ...auth('alice'), 'mcp-session-id': sessionId });

    // Slow headers: never finished.
    const slowHeaders = await rawConnection(
      server.port,
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\n`,
    );
    // Slow body: 10 of the 100 bytes it declares.
    const slowBody = await rawConnection(
      server.port,
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\n` +
        `Authorization: Bearer ${auth('alice').authorization.slice(7)}\r\nContent-Length: 100\r\n\r\n{"jsonrpc"`,
    );
    expect(await slowHeaders.closed).toMatch(/^HTTP\/1\.1 408 /);
    expect(await slowBody.closed).toMatch(/^HTTP\/1\.1 408 /);

    // The stream's request was received long ago; requestTimeout does not apply to its response.
    const notified = await rawCallTool(
      server.url,
      sessionId,
      'notify',
      { message: 'still here', count: 1 },
      auth('alice'),
    );
    expect(notified.result).toEqual({ sent: 1 });
    expect(stream.status).toBe(200);
    const [event] = await stream.next(1);
    expect(event?.data).toContain('still here 1/1');
    stream.close();
    await server.stop();
  });

  it('refuses connections over HTTP_MAX_CONNECTIONS, and accepts again once one closes', async () => {
    const server = await start({ HTTP_MAX_CONNECTIONS: '3' });
    const healthz = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`;
    const held = [];
    for (let i = 0; i < 3; i++) {
      const connection = await rawConnection(server.port, healthz);
      expect(await connection.answer).toMatch(/^HTTP\/1\.1 200 /);
      held.push(connection);
    }
    const refused = await rawConnection(server.port, healthz);
    expect(await refused.closed).toBe('');

    held[0]?.socket.destroy();
    // The server counts the closed connection out when it sees it close: retry until it has.
    await expect
      .poll(
        async () => {
          const again = await rawConnection(server.port, healthz);
          const answer = await again.answer;
          again.socket.destroy();
          return answer;
        },
        { timeout: 10_000 },
      )
      .toMatch(/^HTTP\/1\.1 200 /);
    expect(server.output.join('')).toMatch(
      /\[server\] refused 1 connection\(s\): HTTP_MAX_CONNECTIONS \(3\) are open/,
    );
    for (const connection of held) connection.socket.destroy();
    await server.stop();
  });

  it('answers a foreign Origin with 403 and a JSON-RPC body (pins: a plain-text 403)', async () => {
    const server = await start();
    const response = await fetch(server.url, {
      method: 'POST',
      headers: postHeaders({ ...auth('alice'), origin: 'http://evil.example.com' }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({
      jsonrpc: '2.0',
      // The handler's own check now, which names the option that would allow the origin.
      error: {
        code: -32000,
        message: expect.stringMatching(/^Forbidden: .*Origin.*allowedOrigins/),
      },
      id: null,
    });
    await server.stop();
  });
});

describe('log lines', () => {
  it('escapes what a client sent: a protocol version or tool name with "\\n[forged] …" stays on its line (pins: forged log lines)', async () => {
    const server = await start();
    const meta = (version: string) => ({
      'io.modelcontextprotocol/protocolVersion': version,
      'io.modelcontextprotocol/clientInfo': { name: 'forger', version: '1.0.0' },
      'io.modelcontextprotocol/clientCapabilities': {},
    });
    const post = (headers: Record<string, string>, body: unknown) =>
      fetch(server.url, {
        method: 'POST',
        headers: postHeaders({ ...auth('alice'), ...headers }),
        body: JSON.stringify(body),
      });
    // Each is refused by the SDK 2.x leg, which reports the refusal, echoing the client's text, to onerror.
    await post(
      {},
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/list',
        params: { _meta: meta('2026-07-28\n[forged] admin logged in\r\n\u001b[2K') },
      },
    );
    await post(
      { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'recall' },
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: {
          name: 'recall\n[forged] tool call\u2028[forged] again',
          arguments: { handle: 'h_x', key: 'k' },
          _meta: meta('2026-07-28'),
        },
      },
    );
    await expect
      .poll(() =>
        server.output
          .join('')
          .split('\n')
          .filter((l) => l.startsWith('[mcp 2026]')),
      )
      .toHaveLength(2);
    const lines = server.output.join('').split('\n');
    expect(
      lines.filter((line) => line.includes('[forged]') && !line.startsWith('[mcp 2026] ')),
    ).toEqual([]);
    const logged = lines.filter((line) => line.startsWith('[mcp 2026]')).join('\n');
    expect(logged).toContain('2026-07-28\\n[forged] admin logged in\\r\\n\\x1b[2K');
    expect(logged).toContain('recall\\n[forged] tool call\\u{2028}[forged] again');
    await server.stop();
  });
});
