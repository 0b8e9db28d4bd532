import { describe, expect, it } from 'vitest';
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
