import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  InvalidValueError,
  isSessionManager,
  MAX_TIMER_MS,
  type ManagerCounters,
  SESSION_STATES,
  type SessionManager,
  type StoreStats,
} from '@mcp-session/core';
import {
  type MetricFamily,
  type MetricSample,
  PROMETHEUS_CONTENT_TYPE,
  renderExposition,
  snakeCase,
} from './prometheus.js';

/**
 * What the exporter reads of the session handler (`createMcpSessionHandler`'s `McpSessionHandler`): its
 * `stats()`, whose numeric fields are gauges and whose `counters` are counters. Read on every scrape: a
 * copy of in-memory numbers, never a store call.
 */
export interface HandlerStatsSource {
  stats(): { counters: object };
}

/** What the exporter reads of `StateHandles`: its `stats()`, every numeric field a counter. Read live. */
export interface HandleStatsSource {
  stats(): object;
}

/** Options of `createMetricsExporter`. */
export interface MetricsExporterOptions {
  /** The manager whose store aggregates (`getMetrics()`) and counters (`counters()`) are exported. */
  manager: SessionManager;
  /** The 2025-era session handler, for held sessions and its counters. */
  handler?: HandlerStatsSource;
  /** The 2026-era state handles, for their counters. */
  handles?: HandleStatsSource;
  /**
   * How often the store aggregates are recomputed, in milliseconds (an unref'd timer; the first refresh
   * runs at creation). Scrapes are served from the last result, so they never aggregate the store.
   * Default 15,000.
   */
  refreshIntervalMs?: number;
  /**
   * Bearer token scrapes must present (`Authorization: Bearer <token>`); at least 16 visible ASCII
   * characters. Without it, anyone who can reach the endpoint reads the metrics.
   */
  token?: string;
  /** Value of the `instance` label on this process's own series (counters, live gauges). Default: none. */
  instance?: string;
  /**
   * Hears of failed timer refreshes (also counted in `mcp_store_stats_refresh_failures_total`) and of a
   * `stats()` that threw during a scrape (answered 500).
   */
  onerror?: (error: Error) => void;
}

/** A Prometheus `/metrics` endpoint for one process. Create it with `createMetricsExporter`. */
export interface MetricsExporter {
  /**
   * `(req, res)` listener for `node:http`: answers whatever request it is given (route only your metrics
   * path to it). GET and HEAD get the exposition (or 401 without the token); anything else 405.
   */
  readonly nodeListener: (req: IncomingMessage, res: ServerResponse) => void;
  /** The same for a web-standard `Request`. Never rejects. */
  handleRequest(request: Request): Promise<Response>;
  /** The exposition as text (Prometheus text format 0.0.4), from the cached store aggregates. */
  render(): string;
  /**
   * Recomputes the store aggregates now (joining a refresh already running). Rejects with the store's
   * error when it fails, which is also counted; the previous aggregates stay in use.
   */
  refresh(): Promise<void>;
  /** Stops the refresh timer and stops counting the manager's events. Idempotent. */
  close(): void;
}

const DEFAULT_REFRESH_INTERVAL_MS = 15_000;
const TOKEN_SHAPE = /^[\x21-\x7e]{16,}$/;
const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The manager's counters (`manager.counters()`, since the manager was created), by metric name. */
const MANAGER_COUNTERS: Record<keyof ManagerCounters, { name: string; help: string }> = {
  sessionsCreated: {
    name: 'mcp_sessions_created_total',
    help: 'Sessions created by this process (state handles included).',
  },
  sessionsResumed: {
    name: 'mcp_sessions_resumed_total',
    help: 'Sessions resumed by a preferred session id, by this process.',
  },
  sessionsExpired: {
    name: 'mcp_sessions_expired_total',
    help: 'Expired sessions swept by this process.',
  },
  sessionsClosed: {
    name: 'mcp_sessions_closed_total',
    help: 'Sessions closed by this process (DELETE, closed handles, purges).',
  },
  messagesAdded: { name: 'mcp_messages_total', help: 'History messages added by this process.' },
  transitions: {
    name: 'mcp_session_transitions_total',
    help: 'Session state transitions made by this process (closes included).',
  },
  versionConflicts: {
    name: 'mcp_session_version_conflicts_total',
    help: 'Guarded writes of this process that lost a race (re-read and retried, or reported).',
  },
  activityWrites: {
    name: 'mcp_session_activity_writes_total',
    help: 'Activity writes of reads (throttled by the activity write interval), by this process.',
  },
  quotaRefusals: {
    name: 'mcp_session_quota_refusals_total',
    help: 'Creates this process refused for a quota on stored sessions (per owner or in total).',
  },
};

/** Names the reference server's dashboards have used since before the exporter; others are derived. */
const HANDLER_GAUGE_NAMES: Record<string, string> = {
  liveSessions: 'mcp_live_sessions',
  busySessions: 'mcp_busy_sessions',
};
const HANDLER_COUNTER_NAMES: Record<string, string> = {
  rebuilt: 'mcp_sessions_rebuilt_total',
  evicted: 'mcp_sessions_evicted_total',
  notFound: 'mcp_requests_session_not_found_total',
};
const HANDLER_HELP: Record<string, string> = {
  liveSessions: 'Sessions held in this process’s memory.',
  busySessions: 'Held sessions with a request in progress or a stream open.',
  initialized: 'Sessions created by initialize in this process.',
  resumed: 'Re-initializes that got their preferred session id back, in this process.',
  rebuilt: 'Sessions this process rebuilt from the store (restart, other instance, eviction).',
  evicted: 'Idle sessions this process dropped from memory.',
  notFound: 'Requests answered 404 (unknown, expired, closed or foreign session).',
  deleted: 'Sessions closed by DELETE in this process.',
  // Fields the handler may not have in every release; their names are derived like any other's.
  openStreams: 'Response bodies still streaming (GET streams and POST responses as SSE).',
  saturated: 'Requests answered 503 because every held session was busy.',
  ownerSessionLimited: 'Requests answered 429: their owner held its most live sessions, all busy.',
  ownerStreamLimited: 'Requests answered 429: their owner had its most streams open.',
  ownerQuotaExceeded:
    'Initializes answered 429: their owner has all the stored sessions its quota allows.',
  totalQuotaExceeded:
    'Initializes answered 503: the store holds all the sessions its quota allows.',
  forbidden: 'Requests answered 403 for their Host or Origin.',
};
const HANDLES_HELP: Record<string, string> = {
  minted: 'State handles minted by this process.',
  resolved: 'State handle uses resolved for their owner by this process.',
  notFound: 'Handle uses refused as unknown, expired, closed, malformed or another user’s.',
  unauthenticated: 'Handle mints or uses refused because the caller was not authenticated.',
};

/**
 * Creates a Prometheus exporter over a manager and, optionally, the MCP handler and state handles of this
 * process. Store aggregates are refreshed on an unref'd timer and served from that cache; the handler's
 * and handles' numbers, and the manager's counters, are read live.
 * @throws InvalidValueError when `manager` is not a `SessionManager` or an option is malformed.
 */
export function createMetricsExporter(options: MetricsExporterOptions): MetricsExporter {
  return new PrometheusExporter(options);
}

interface StoreSnapshot {
  stats: StoreStats;
  /** `performance.now()` when it was taken. */
  takenAt: number;
  /** How long the aggregate took, seconds. */
  seconds: number;
}

class PrometheusExporter implements MetricsExporter {
  readonly nodeListener: (req: IncomingMessage, res: ServerResponse) => void;
  readonly #manager: SessionManager;
  readonly #handler: HandlerStatsSource | undefined;
  readonly #handles: HandleStatsSource | undefined;
  readonly #tokenDigest: Buffer | undefined;
  readonly #labels: Readonly<Record<string, string>>;
  readonly #onerror: (error: Error) => void;
  readonly #timer: NodeJS.Timeout;
  #snapshot: StoreSnapshot | undefined;
  #refreshing: Promise<void> | undefined;
  #refreshFailures = 0;

  constructor(options: MetricsExporterOptions) {
    const { manager, handler, handles, token, instance, onerror } = options ?? {};
    if (!isSessionManager(manager)) {
      throw new InvalidValueError('createMetricsExporter needs a SessionManager', 'manager');
    }
    for (const [source, name] of [
      [handler, 'handler'],
      [handles, 'handles'],
    ] as const) {
      if (source !== undefined && typeof source?.stats !== 'function') {
        throw new InvalidValueError(`${name} must have a stats() method`, name);
      }
    }
    const refreshIntervalMs = options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    // Node fires a timer longer than MAX_TIMER_MS after 1 ms: it would refresh in a loop.
    if (
      !Number.isSafeInteger(refreshIntervalMs) ||
      refreshIntervalMs < 1 ||
      refreshIntervalMs > MAX_TIMER_MS
    ) {
      throw new InvalidValueError(
        `refreshIntervalMs must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}`,
        'refreshIntervalMs',
      );
    }
    if (token !== undefined && (typeof token !== 'string' || !TOKEN_SHAPE.test(token))) {
      throw new InvalidValueError(
        'token must be at least 16 visible ASCII characters (it travels in an Authorization header)',
        'token',
      );
    }
    if (instance !== undefined && typeof instance !== 'string') {
      throw new InvalidValueError('instance must be a string', 'instance');
    }
    if (onerror !== undefined && typeof onerror !== 'function') {
      throw new InvalidValueError('onerror must be a function', 'onerror');
    }
    this.#manager = manager;
    this.#handler = handler;
    this.#handles = handles;
    this.#tokenDigest = token === undefined ? undefined : digest(token);
    this.#labels = instance === undefined ? {} : { instance };
    this.#onerror = onerror ?? (() => {});

    this.nodeListener = (req, res) => {
      const answer = this.#answer(req.method ?? 'GET', req.headers.authorization ?? null);
      res.writeHead(answer.status, {
        ...answer.headers,
        'content-length': String(Buffer.byteLength(answer.body)),
      });
      res.end(req.method === 'HEAD' ? undefined : answer.body);
    };

    this.#timer = setInterval(() => this.#refreshInBackground(), refreshIntervalMs);
    this.#timer.unref();
    this.#refreshInBackground();
  }

  async handleRequest(request: Request): Promise<Response> {
    const answer = this.#answer(request.method, request.headers.get('authorization'));
    return new Response(request.method === 'HEAD' ? null : answer.body, {
      status: answer.status,
      headers: answer.headers,
    });
  }

  render(): string {
    return renderExposition(this.#families());
  }

  refresh(): Promise<void> {
    this.#refreshing ??= this.#aggregate().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #refreshInBackground(): void {
    this.refresh().catch((error: unknown) => this.#report(error));
  }

  #report(error: unknown): void {
    try {
      this.#onerror(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // A throwing error listener must not break a scrape or reject on a timer.
    }
  }

  async #aggregate(): Promise<void> {
    const started = performance.now();
    try {
      const { store } = await this.#manager.getMetrics();
      const takenAt = performance.now();
      this.#snapshot = { stats: store, takenAt, seconds: (takenAt - started) / 1000 };
    } catch (error) {
      this.#refreshFailures++;
      throw error;
    }
  }

  #answer(
    method: string,
    authorization: string | null,
  ): { status: number; headers: Record<string, string>; body: string } {
    if (method !== 'GET' && method !== 'HEAD') {
      return {
        status: 405,
        headers: { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' },
        body: 'Method Not Allowed: metrics are read with GET.\n',
      };
    }
    if (this.#tokenDigest !== undefined) {
      const presented = BEARER.exec(authorization ?? '')?.[1];
      if (presented === undefined || !timingSafeEqual(digest(presented), this.#tokenDigest)) {
        return {
          status: 401,
          headers: {
            'www-authenticate':
              presented === undefined
                ? 'Bearer realm="metrics"'
                : 'Bearer realm="metrics", error="invalid_token"',
            'content-type': 'text/plain; charset=utf-8',
          },
          body: 'Unauthorized: send Authorization: Bearer <metrics token>.\n',
        };
      }
    }
    let body: string;
    try {
      body = this.render();
    } catch (error) {
      // A stats() source that throws must not take the listener (and a Node server) down with it.
      this.#report(error);
      return {
        status: 500,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: 'Internal Server Error: the metrics could not be read.\n',
      };
    }
    return {
      status: 200,
      headers: { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' },
      body,
    };
  }

  *#families(): Generator<MetricFamily> {
    const own = this.#labels;
    const one = (value: number, labels = own): MetricSample[] => [{ labels, value }];

    const snapshot = this.#snapshot;
    if (snapshot) {
      // The store's aggregates are the same on every instance sharing the store: no instance label.
      const { stats } = snapshot;
      yield {
        name: 'mcp_sessions',
        type: 'gauge',
        help: 'Sessions in the store that have not expired (MCP sessions and state handles alike), by state.',
        samples: SESSION_STATES.map((state) => ({
          labels: { state },
          value: stats.byState[state],
        })),
      };
      yield {
        name: 'mcp_sessions_expired_unswept',
        type: 'gauge',
        help: 'Expired sessions not swept yet.',
        samples: one(stats.expired, {}),
      };
      yield {
        name: 'mcp_store_messages',
        type: 'gauge',
        help: 'Messages ever added to the sessions in the store.',
        samples: one(stats.messages, {}),
      };
      yield {
        name: 'mcp_store_stats_age_seconds',
        type: 'gauge',
        help: 'Seconds since the store aggregates above were computed (they are refreshed on a timer, never by a scrape).',
        samples: one(roundMs((performance.now() - snapshot.takenAt) / 1000)),
      };
      yield {
        name: 'mcp_store_stats_refresh_seconds',
        type: 'gauge',
        help: 'How long the last store aggregate took, seconds.',
        samples: one(roundMs(snapshot.seconds)),
      };
    }
    yield {
      name: 'mcp_store_stats_refresh_failures_total',
      type: 'counter',
      help: 'Store aggregate refreshes that failed (the previous aggregates stay in use).',
      samples: one(this.#refreshFailures),
    };

    const counters = this.#manager.counters();
    for (const [key, { name, help }] of Object.entries(MANAGER_COUNTERS)) {
      yield { name, type: 'counter', help, samples: one(counters[key as keyof ManagerCounters]) };
    }

    if (this.#handler) {
      const { counters, ...gauges } = this.#handler.stats();
      for (const [key, value] of numericEntries(gauges)) {
        yield {
          name: HANDLER_GAUGE_NAMES[key] ?? `mcp_handler_${snakeCase(key)}`,
          type: 'gauge',
          help: HANDLER_HELP[key] ?? `The MCP session handler's stats().${key}.`,
          samples: one(value),
        };
      }
      for (const [key, value] of numericEntries(counters)) {
        yield {
          name: HANDLER_COUNTER_NAMES[key] ?? `mcp_handler_${snakeCase(key)}_total`,
          type: 'counter',
          help: HANDLER_HELP[key] ?? `The MCP session handler's stats().counters.${key}.`,
          samples: one(value),
        };
      }
    }

    if (this.#handles) {
      for (const [key, value] of numericEntries(this.#handles.stats())) {
        yield {
          name: `mcp_state_handles_${snakeCase(key)}_total`,
          type: 'counter',
          help: HANDLES_HELP[key] ?? `The state handles' stats().${key}.`,
          samples: one(value),
        };
      }
    }
  }
}

/** The own enumerable number-valued fields of `value`; anything else (nested objects) is not a metric. */
function numericEntries(value: object): [string, number][] {
  return Object.entries(value).filter(
    (entry): entry is [string, number] => typeof entry[1] === 'number',
  );
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function roundMs(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
