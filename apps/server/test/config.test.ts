import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_TIMER_MS } from '@mcp-session/core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

describe('loadConfig: HTTP limits, metrics, allowed hosts and origins', () => {
  it('has documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      metricsToken: undefined,
      metricsRefreshIntervalMs: 15_000,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 60_000,
      keepAliveTimeoutMs: 5_000,
      maxConnections: 1_000,
      allowedHosts: undefined,
      allowedOrigins: undefined,
    });
  });

  it('reads them from the environment', () => {
    expect(
      loadConfig({
        METRICS_TOKEN: ' metrics-token-0123456789abcdef ',
        METRICS_REFRESH_INTERVAL_MS: '500',
        HTTP_HEADERS_TIMEOUT_MS: '2000',
        HTTP_REQUEST_TIMEOUT_MS: '3000',
        HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000',
        HTTP_MAX_CONNECTIONS: '50',
        ALLOWED_HOSTS: 'mcp.example.com, mcp.example.com:8443 ,',
        ALLOWED_ORIGINS: '*',
      }),
    ).toMatchObject({
      metricsToken: 'metrics-token-0123456789abcdef',
      metricsRefreshIntervalMs: 500,
      headersTimeoutMs: 2_000,
      requestTimeoutMs: 3_000,
      keepAliveTimeoutMs: 1_000,
      maxConnections: 50,
      allowedHosts: ['mcp.example.com', 'mcp.example.com:8443'],
      allowedOrigins: '*',
    });
  });

  it('refuses malformed values, naming the variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ METRICS_TOKEN: 'short' }, /^METRICS_TOKEN/],
      [{ METRICS_TOKEN: 'has spaces in it 0123456789' }, /^METRICS_TOKEN/],
      [{ HTTP_MAX_CONNECTIONS: '0' }, /^HTTP_MAX_CONNECTIONS/],
      [{ HTTP_REQUEST_TIMEOUT_MS: '1.5' }, /^HTTP_REQUEST_TIMEOUT_MS/],
      [{ HTTP_HEADERS_TIMEOUT_MS: '70000' }, /^HTTP_HEADERS_TIMEOUT_MS .* HTTP_REQUEST_TIMEOUT_MS/],
      [{ ALLOWED_ORIGINS: '*,https://a.example' }, /^ALLOWED_ORIGINS/],
    ];
    for (const [env, message] of cases) expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('loadConfig: limits', () => {
  it('has the library defaults, and reads each limit from the environment', () => {
    expect(loadConfig({})).toMatchObject({
      maxSessionsPerOwner: 1_000,
      maxSessions: 100_000,
      maxLiveSessions: 10_000,
      maxLiveSessionsPerOwner: 100,
      maxOpenStreamsPerOwner: 100,
    });
    expect(
      loadConfig({
        SESSION_MAX_PER_OWNER: '3',
        SESSION_MAX_TOTAL: '50',
        MCP_MAX_LIVE_SESSIONS: '4',
        MCP_MAX_LIVE_SESSIONS_PER_OWNER: '2',
        MCP_MAX_OPEN_STREAMS_PER_OWNER: '5',
      }),
    ).toMatchObject({
      maxSessionsPerOwner: 3,
      maxSessions: 50,
      maxLiveSessions: 4,
      maxLiveSessionsPerOwner: 2,
      maxOpenStreamsPerOwner: 5,
    });
  });

  it('takes decimal digits only for numbers (regression: "0x10" and "1e3" were read as 16 and 1000)', () => {
    for (const bad of ['0x10', '1e3', ' 5x', '2.5', '-1', '0']) {
      expect(() => loadConfig({ SESSION_MAX_PER_OWNER: bad }), bad).toThrow(
        /SESSION_MAX_PER_OWNER must be an integer ≥ 1/,
      );
    }
    expect(() => loadConfig({ SESSION_IDLE_TIMEOUT_MS: '1e3' })).toThrow(/SESSION_IDLE_TIMEOUT_MS/);
  });
});

describe('loadConfig: timers', () => {
  const TIMERS = [
    'SESSION_SWEEP_INTERVAL_MS',
    'METRICS_REFRESH_INTERVAL_MS',
    'HTTP_REQUEST_TIMEOUT_MS',
    'HTTP_HEADERS_TIMEOUT_MS',
    'HTTP_KEEP_ALIVE_TIMEOUT_MS',
  ];

  it('refuses a delay Node would turn into a 1 ms timer (regression: a sweep interval above 2^31-1 ms swept every millisecond)', () => {
    for (const name of TIMERS) {
      const env = { HTTP_REQUEST_TIMEOUT_MS: String(MAX_TIMER_MS), [name]: String(MAX_TIMER_MS) };
      expect(loadConfig(env), name).toMatchObject({});
      const error = catchError(() =>
        loadConfig({ HTTP_REQUEST_TIMEOUT_MS: String(MAX_TIMER_MS), [name]: '2147483648' }),
      );
      expect(error, name).toMatchObject({
        name: 'ConfigError',
        code: 'INVALID_CONFIG',
        variable: name,
      });
      expect(error.message, name).toBe(
        `${name} must be an integer from 1 to 2147483647, got "2147483648"`,
      );
      for (const bad of ['0x10', '1e3', '-1']) {
        expect(() => loadConfig({ [name]: bad }), `${name}=${bad}`).toThrow(name);
      }
    }
    // Durations that are not timers (they only move expiry times) may be longer.
    expect(
      loadConfig({ SESSION_MAX_LIFETIME_MS: String(30 * 24 * 60 * 60_000) }).maxLifetimeMs,
    ).toBe(30 * 24 * 60 * 60_000);
  });
});

describe('loadConfig: bearer tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-tokens-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const SECRET = 'sk-live-0123456789abcdef-SECRET';
  let files = 0;
  const tokensFile = (text: string) => {
    const path = join(dir, `tokens-${++files}.json`);
    writeFileSync(path, text);
    return path;
  };
  const refusal = (env: Record<string, string>) => {
    const error = catchError(() => loadConfig(env));
    expect(error).toMatchObject({ name: 'ConfigError', code: 'INVALID_CONFIG' });
    expect(error.message).not.toContain(SECRET);
    expect(error.message).not.toContain(SECRET.slice(-4));
    return error;
  };

  it('reads the file and the inline list', () => {
    const path = tokensFile(JSON.stringify({ tokens: { [SECRET]: 'alice' } }));
    const tokens = loadConfig({
      MCP_TOKENS_FILE: path,
      MCP_TOKENS: 'bob-token-0123456789=bob',
    }).tokens;
    expect([...tokens]).toEqual([
      [SECRET, 'alice'],
      ['bob-token-0123456789', 'bob'],
    ]);
  });

  it('names the file and the position of a syntax error, never the content (regression: a bad tokens file was echoed)', () => {
    const path = tokensFile(`{\n  "tokens": {\n    "${SECRET}": alice\n  }\n}\n`);
    const error = refusal({ MCP_TOKENS_FILE: path });
    expect(error.message).toBe(
      `MCP_TOKENS_FILE: ${path} is not valid JSON: a value was expected at line 3 column ${SECRET.length + 9}`,
    );
    for (const text of [
      `{"tokens": {"${SECRET}": "alice"`,
      `{"tokens": {"${SECRET}\u0001": "a"}}`,
      `${SECRET}`,
      `{"tokens": ["${SECRET}"]}`,
      `{"tokens": {"${SECRET}": "a"}} ${SECRET}`,
    ]) {
      const bad = refusal({ MCP_TOKENS_FILE: tokensFile(text) });
      expect(bad.message).toMatch(
        /^MCP_TOKENS_FILE: \S+ (is not valid JSON: .* at line \d+ column \d+|must hold)/,
      );
    }
    expect(refusal({ MCP_TOKENS_FILE: join(dir, 'missing.json') }).message).toMatch(
      /^MCP_TOKENS_FILE: cannot read .*missing\.json: ENOENT/,
    );
  });

  it('names the entry of a malformed token or owner by its position, never the token', () => {
    const path = tokensFile(`{"tokens": {\n "${SECRET}": "alice",\n "${SECRET}x": ""\n}}`);
    expect(refusal({ MCP_TOKENS_FILE: path }).message).toBe(
      `MCP_TOKENS_FILE: the token at ${path} line 3 column 2 needs a non-empty owner`,
    );
    const short = tokensFile(`{"tokens": {"short-SECRET": "alice"}}`);
    expect(refusal({ MCP_TOKENS_FILE: short }).message).toBe(
      `MCP_TOKENS_FILE: the token at ${short} line 1 column 13 must be at least 16 visible ASCII characters`,
    );
    expect(refusal({ MCP_TOKENS: `bob-token-0123456789=bob, ${SECRET}=` }).message).toBe(
      'MCP_TOKENS: the token at entry 2 needs a non-empty owner',
    );
  });

  it('refuses one token given twice, naming the positions (regression: one token mapped to two owners was accepted)', () => {
    const path = tokensFile(`{"tokens": {\n  "${SECRET}": "alice",\n  "${SECRET}": "bob"\n}}`);
    expect(refusal({ MCP_TOKENS_FILE: path }).message).toBe(
      `MCP_TOKENS_FILE: ${path} gives one key twice, at line 2 column 3 and at line 3 column 3; give each token once, with one owner`,
    );
    expect(
      refusal({ MCP_TOKENS: `${SECRET}=alice,bob-token-0123456789=bob,${SECRET}=mallory` }).message,
    ).toBe(
      'MCP_TOKENS: the token at entry 3 is the token at entry 1 again; give each token once, with one owner',
    );
    const single = tokensFile(JSON.stringify({ tokens: { [SECRET]: 'alice' } }, null, 2));
    expect(refusal({ MCP_TOKENS_FILE: single, MCP_TOKENS: `${SECRET}=bob` }).message).toBe(
      `MCP_TOKENS: the token at entry 1 is the token at ${single} line 3 column 5 again; give each token once, with one owner`,
    );
  });
});

function catchError(run: () => unknown): Error & { code?: string; variable?: string } {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}
