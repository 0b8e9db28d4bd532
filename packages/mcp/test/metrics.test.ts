import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  InvalidValueError,
  SessionManager,
  type SessionStore,
  StoreUnavailableError,
} from '@mcp-session/core';
import { MemorySessionStore } from '@mcp-session/memory';
import { describe, expect, it } from 'vitest';
import { StateHandles } from '../src/handles/index.js';
import {
  createMcpSessionHandler,
  createMetricsExporter,
  type MetricsExporter,
  type MetricsExporterOptions,
  PROMETHEUS_CONTENT_TYPE,
} from '../src/index.js';
import {
  cleanupAfterEach,
  demoServer,
  listen,
  postHeaders,
  rawCallTool,
  rawInitialize,
} from './helpers.js';

const cleanups = cleanupAfterEach();
const TOKEN = 'metrics-token-0123456789abcdef';

/** A real memory store whose `stats` calls are counted, and which fails them while `failing` is set. */
function countingStore() {
  const inner = new MemorySessionStore({ sweepIntervalMs: 0 });
  const probe = { statsCalls: 0, failing: false };
  const store = new Proxy(inner, {
    get(target, property) {
      if (property === 'stats') {
        return async (now: number) => {
          probe.statsCalls++;
          if (probe.failing)
            throw new StoreUnavailableError('memory stats failed: injected outage');
          return target.stats(now);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as SessionStore;
  return { store, probe };
}

function setup(options: Partial<MetricsExporterOptions> = {}) {
  const { store, probe } = countingStore();
  const manager = new SessionManager({ store });
  const exporter = createMetricsExporter({ manager, refreshIntervalMs: 3_600_000, ...options });
  cleanups.push(async () => {
    exporter.close();
    await manager.close();
  });
  return { manager, exporter, probe };
}

/** The value of one sample line (`name` or `name{labels}`) in an exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Every line is a HELP, a TYPE or a sample of the family announced just before it (format 0.0.4). */
function expectWellFormed(text: string): void {
  expect(text.endsWith('\n')).toBe(true);
  let family = '';
  const seen = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (help) {
      family = help[1] as string;
      expect(seen.has(family), `family ${family} twice`).toBe(false);
      seen.add(family);
      continue;
    }
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$/.exec(line);
    if (type) {
      expect(type[1]).toBe(family);
      continue;
    }
    const match =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(
        line,
      );
    expect(match, `malformed line: ${line}`).not.toBeNull();
    expect(match?.[1]).toBe(family);
  }
}

async function serve(exporter: MetricsExporter) {
  const server = createServer(exporter.nodeListener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return url;
}

describe('metrics exporter', () => {
  it('renders the store aggregates, the manager, handler and handles counters, in text format 0.0.4', async () => {
    const { manager, exporter } = setup({ instance: 'a"b\\c\nd' });
    const handler = await createMcpSessionHandler({ sessions: manager, server: demoServer });
    const handles = new StateHandles(manager);
    cleanups.push(() => handler.close());
    const full = createMetricsExporter({ manager, handler, handles, instance: 'i-1' });
    cleanups.push(() => full.close());
    const { url, close } = await listen(handler);
    cleanups.push(close);

    const { sessionId } = await rawInitialize(url);
    await rawCallTool(url, sessionId ?? '', 'remember', { key: 'k', value: 'v' });
    const unknown = await fetch(url, {
      method: 'POST',
      headers: postHeaders({ 'mcp-session-id': 'no-such-session-id-0000000000' }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(unknown.status).toBe(404);
    await handles.mint('alice');
    await full.refresh();

    const text = full.render();
    expectWellFormed(text);
    expect(text).toContain(
      '# HELP mcp_sessions Sessions in the store that have not expired (MCP sessions and state handles alike), by state.\n# TYPE mcp_sessions gauge\n',
    );
    expect(sample(text, 'mcp_sessions{state="active"}')).toBe(2);
    expect(sample(text, 'mcp_sessions{state="closed"}')).toBe(0);
    expect(sample(text, 'mcp_sessions_expired_unswept')).toBe(0);
    expect(sample(text, 'mcp_store_messages')).toBe(0);
    expect(sample(text, 'mcp_store_stats_age_seconds{instance="i-1"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'mcp_store_stats_refresh_failures_total{instance="i-1"}')).toBe(0);
    expect(sample(text, 'mcp_sessions_created_total{instance="i-1"}')).toBe(2);
    expect(sample(text, 'mcp_live_sessions{instance="i-1"}')).toBe(1);
    expect(sample(text, 'mcp_busy_sessions{instance="i-1"}')).toBe(0);
    expect(sample(text, 'mcp_handler_initialized_total{instance="i-1"}')).toBe(1);
    expect(sample(text, 'mcp_requests_session_not_found_total{instance="i-1"}')).toBe(1);
    expect(sample(text, 'mcp_sessions_rebuilt_total{instance="i-1"}')).toBe(0);
    expect(sample(text, 'mcp_state_handles_minted_total{instance="i-1"}')).toBe(1);
    expect(text).toMatch(/^# TYPE mcp_state_handles_minted_total counter$/m);

    // The instance label is escaped as the format wants: backslash, quote and line feed.
    const escaped = exporter.render();
    expectWellFormed(escaped);
    expect(escaped).toContain('mcp_sessions_created_total{instance="a\\"b\\\\c\\nd"} 2\n');
  });

  it('serves scrapes from the cached aggregates: no scrape calls the store (pins: each scrape aggregated the whole store)', async () => {
    const { manager, exporter, probe } = setup();
    await exporter.refresh();
    expect(probe.statsCalls).toBe(1);
    const url = await serve(exporter);
    await manager.createSession();

    for (let i = 0; i < 20; i++) {
      expect((await fetch(url)).status).toBe(200);
      expect((await exporter.handleRequest(new Request(url))).status).toBe(200);
      exporter.render();
    }
    expect(probe.statsCalls).toBe(1);
    // Counters are live; the store gauges move only on a refresh.
    const before = await (await fetch(url)).text();
    expect(sample(before, 'mcp_sessions_created_total')).toBe(1);
    expect(sample(before, 'mcp_sessions{state="active"}')).toBe(0);
    await exporter.refresh();
    expect(probe.statsCalls).toBe(2);
    expect(sample(await (await fetch(url)).text(), 'mcp_sessions{state="active"}')).toBe(1);
  });

  it('refreshes at creation and on its timer, and joins a refresh already running', async () => {
    const { store, probe } = countingStore();
    const manager = new SessionManager({ store });
    cleanups.push(() => manager.close());
    const exporter = createMetricsExporter({ manager, refreshIntervalMs: 20 });
    cleanups.push(() => exporter.close());
    const [a, b] = [exporter.refresh(), exporter.refresh()];
    expect(a).toBe(b);
    await a;
    const afterJoin = probe.statsCalls;
    expect(afterJoin).toBeGreaterThanOrEqual(1);
    await expect.poll(() => probe.statsCalls, { timeout: 10_000 }).toBeGreaterThan(afterJoin + 1);
    exporter.close();
    const atClose = probe.statsCalls;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(probe.statsCalls).toBe(atClose);
  });

  it('counts a failed refresh, keeps the previous aggregates, and reports timer failures to onerror', async () => {
    const errors: Error[] = [];
    const { store, probe } = countingStore();
    const manager = new SessionManager({ store });
    cleanups.push(() => manager.close());
    const exporter = createMetricsExporter({
      manager,
      refreshIntervalMs: 20,
      onerror: (error) => errors.push(error),
    });
    cleanups.push(() => exporter.close());
    await exporter.refresh();
    await manager.createSession();
    probe.failing = true;
    await expect(exporter.refresh()).rejects.toThrow(/injected outage/);
    await expect.poll(() => errors.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(errors[0]?.message).toMatch(/injected outage/);
    const text = exporter.render();
    expect(sample(text, 'mcp_store_stats_refresh_failures_total')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'mcp_sessions{state="active"}')).toBe(0);
    expect(sample(text, 'mcp_sessions_created_total')).toBe(1);

    probe.failing = false;
    await exporter.refresh();
    expect(sample(exporter.render(), 'mcp_sessions{state="active"}')).toBe(1);
  });

  it('renders every numeric field of stats() and stats().counters, including ones it has no name for', async () => {
    const { manager } = setup();
    const exporter = createMetricsExporter({
      manager,
      refreshIntervalMs: 3_600_000,
      handler: {
        stats: () => ({
          liveSessions: 3,
          openStreams: 2,
          byOwner: { alice: 1 },
          counters: { notFound: 4, saturated: 7, retriedHTTP2Streams: 1, note: 'not a number' },
        }),
      },
      handles: { stats: () => ({ minted: 5, refusedForQuota: 6 }) },
    });
    cleanups.push(() => exporter.close());
    const text = exporter.render();
    expectWellFormed(text);
    expect(sample(text, 'mcp_live_sessions')).toBe(3);
    expect(sample(text, 'mcp_handler_open_streams')).toBe(2);
    expect(text).toMatch(/^# TYPE mcp_handler_open_streams gauge$/m);
    expect(sample(text, 'mcp_requests_session_not_found_total')).toBe(4);
    expect(sample(text, 'mcp_handler_saturated_total')).toBe(7);
    expect(text).toMatch(/^# TYPE mcp_handler_saturated_total counter$/m);
    expect(sample(text, 'mcp_handler_retried_http2_streams_total')).toBe(1);
    expect(text).toMatch(
      /^# HELP mcp_handler_retried_http2_streams_total .*stats\(\)\.counters\.retriedHTTP2Streams\.$/m,
    );
    expect(sample(text, 'mcp_state_handles_minted_total')).toBe(5);
    expect(sample(text, 'mcp_state_handles_refused_for_quota_total')).toBe(6);
    expect(text).not.toMatch(/by_owner|note/);
  });

  it('with a token: 401 and WWW-Authenticate: Bearer without it or with a wrong one, 200 with it', async () => {
    const { exporter } = setup({ token: TOKEN });
    const url = await serve(exporter);

    const missing = await fetch(url);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    expect(await missing.text()).not.toMatch(/mcp_/);
    for (const authorization of [
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      'Bearer short',
      `Basic ${TOKEN}`,
    ]) {
      const wrong = await fetch(url, { headers: { authorization } });
      expect(wrong.status, authorization).toBe(401);
      expect(wrong.headers.get('www-authenticate'), authorization).toMatch(
        /^Bearer realm="metrics"/,
      );
    }
    const right = await fetch(url, { headers: { authorization: `bearer  ${TOKEN}` } });
    expect(right.status).toBe(200);
    expect(right.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(await right.text()).toMatch(/^mcp_sessions_created_total 0$/m);

    const web = await exporter.handleRequest(new Request(url));
    expect(web.status).toBe(401);
    expect(web.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    const webRight = await exporter.handleRequest(
      new Request(url, { headers: { authorization: `Bearer ${TOKEN}` } }),
    );
    expect(webRight.status).toBe(200);
  });

  it('answers HEAD without a body and other methods with 405', async () => {
    const { exporter } = setup();
    const url = await serve(exporter);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(url, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const web = await exporter.handleRequest(new Request(url, { method: 'DELETE' }));
    expect(web.status).toBe(405);
  });

  it('answers 500 when a stats() source throws, and tells onerror', async () => {
    const errors: Error[] = [];
    const { manager } = setup();
    const exporter = createMetricsExporter({
      manager,
      refreshIntervalMs: 3_600_000,
      handler: {
        stats: () => {
          throw new Error('stats broke');
        },
      },
      onerror: (error) => errors.push(error),
    });
    cleanups.push(() => exporter.close());
    const url = await serve(exporter);
    expect((await fetch(url)).status).toBe(500);
    expect((await exporter.handleRequest(new Request(url))).status).toBe(500);
    expect(errors.map((error) => error.message)).toEqual(['stats broke', 'stats broke']);
  });

  it('refuses malformed options with InvalidValueError', () => {
    const { manager } = setup();
    const bad: unknown[] = [
      { manager: {} },
      { manager, refreshIntervalMs: 0 },
      { manager, refreshIntervalMs: 1.5 },
      // Regression: Node fires a longer timer after 1 ms, so it refreshed in a loop.
      { manager, refreshIntervalMs: 2 ** 31 },
      { manager, token: 'short' },
      { manager, token: 'has a space in it 0123456789' },
      { manager, handler: {} },
      { manager, handles: { stats: 1 } },
      { manager, instance: 7 },
    ];
    for (const options of bad) {
      expect(() => createMetricsExporter(options as MetricsExporterOptions)).toThrow(
        InvalidValueError,
      );
    }
  });

  it('does not keep the process alive: its refresh timer is unref’d', async () => {
    const script = [
      "import { SessionManager } from '@mcp-session/core';",
      "import { MemorySessionStore } from '@mcp-session/memory';",
      "import { createMetricsExporter } from '@mcp-session/mcp';",
      'const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });',
      'const exporter = createMetricsExporter({ manager, refreshIntervalMs: 10 });',
      'await exporter.refresh();',
      "console.log('refreshed');",
    ].join('\n');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--conditions=@mcp-session/source',
        '--import',
        'tsx',
        '--input-type=module',
        '--eval',
        script,
      ],
      { cwd: join(import.meta.dirname, '..'), timeout: 15_000 },
    );
    expect(stdout.trim()).toBe('refreshed');
  });
});
