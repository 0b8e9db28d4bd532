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
