import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';

export const APP_DIR = join(import.meta.dirname, '..');

/** Bearer tokens the test servers accept, and the owners they map to. */
export const TOKENS = {
  alice: 'alice-token-0123456789abcdef',
  bob: 'bob-token-0123456789abcdef000',
} as const;
export const TOKENS_ENV = `${TOKENS.alice}=alice,${TOKENS.bob}=bob`;

export const auth = (who: keyof typeof TOKENS) => ({ authorization: `Bearer ${TOKENS[who]}` });

/** A reference server running as a child process. */
export interface ServerProcess {
  url: string;
  base: string;
  port: number;
  child: ChildProcess;
  output: string[];
  /** Sends a signal and waits for the process to exit; resolves with its exit code (null when killed). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<ServerProcess>();

/**
 * Starts `src/main.ts` in a child process (`node --import tsx`, with the source export condition from
 * NODE_OPTIONS) and waits for its "listening" line. PORT 0 picks a free port; pass the previous port to
 * restart on the same address.
 */
export async function startServer(env: Record<string, string>, port = 0): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: APP_DIR,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start:\n${output.join('')}`)),
      45_000,
    );
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      const match = /listening on (http:\/\/\S+)/.exec(output.join(''));
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output.join('')}`));
    });
  });
  const parsed = new URL(url);
  const server: ServerProcess = {
    url,
    base: parsed.origin,
    port: Number(parsed.port),
    child,
    output,
    stop: async (signal = 'SIGKILL') => {
      running.delete(server);
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  running.add(server);
  return server;
}

/** Kills every server a test left running. */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop('SIGKILL')));
}

/** A store for one test run: its URL, and a cleanup that removes everything it wrote. */
export interface TestStore {
  name: string;
  url: string;
  cleanup(): Promise<void>;
}

function suffix(): string {
  return randomBytes(6).toString('hex');
}

export async function sqliteStore(): Promise<TestStore> {
  const dir = await mkdtemp(join(tmpdir(), 'mcp-e2e-sqlite-'));
  return {
    name: 'sqlite',
    url: `sqlite:${join(dir, 'data', 'sessions.db')}`,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export async function fileStore(): Promise<TestStore> {
  const dir = await mkdtemp(join(tmpdir(), 'mcp-e2e-file-'));
  return {
    name: 'file',
    url: `file:${join(dir, 'sessions')}`,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export async function redisStore(): Promise<TestStore> {
  const base = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `mcp-e2e-${suffix()}`;
  const url = new URL(base);
  url.searchParams.set('prefix', prefix);
  return {
    name: 'redis',
    url: url.toString(),
    cleanup: async () => {
      const { Redis } = await import('ioredis');
      const redis = new Redis(base, { lazyConnect: true });
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      await redis.quit();
    },
  };
}

export async function postgresStore(): Promise<TestStore> {
  const base = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `mcp_e2e_${suffix()}`;
  const url = new URL(base);
  url.searchParams.set('schema', schema);
  return {
    name: 'postgres',
    url: url.toString(),
    cleanup: async () => {
      // pg ships no types and @types/pg is not a dependency of this app: a minimal local shape.
      const driver = 'pg';
      const { default: pg } = (await import(driver)) as {
        default: {
          Client: new (options: {
            connectionString: string;
          }) => {
            connect(): Promise<void>;
            query(sql: string): Promise<unknown>;
            end(): Promise<void>;
          };
        };
      };
      const client = new pg.Client({ connectionString: base });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  };
}

/** A round-robin HTTP proxy in front of several instances; streams responses (SSE included). */
export async function startRoundRobinProxy(targets: string[]): Promise<{
  url: string;
  hits: number[];
  close(): Promise<void>;
}> {
  const hits = targets.map(() => 0);
  let next = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const index = next++ % targets.length;
    hits[index] = (hits[index] ?? 0) + 1;
    const target = new URL(req.url ?? '/', targets[index]);
    const upstream = httpRequest(
      target,
      { method: req.method, headers: { ...req.headers, host: target.host } },
      (response) => {
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    hits,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Headers of a well-behaved POST. */
export function postHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json',
    ...extra,
  };
}

/** A raw initialize (no SDK client), for tests that need full control of the requests. */
export async function rawInitialize(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: postHeaders(headers),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: 'raw-e2e-client', version: '1.0.0' },
      },
    }),
  });
  await response.text();
  const sessionId = response.headers.get('mcp-session-id') ?? '';
  if (response.status === 200) {
    await fetch(url, {
      method: 'POST',
      headers: postHeaders({ 'mcp-session-id': sessionId, ...headers }),
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
  }
  return { status: response.status, sessionId };
}

/** Calls a tool over raw HTTP; returns the parsed JSON of its text content, or the HTTP status on error. */
export async function rawCallTool(
  url: string,
  sessionId: string,
  name: string,
  args: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; result: unknown }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: postHeaders({
      'mcp-session-id': sessionId,
      'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
      ...headers,
    }),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: randomBytes(4).toString('hex'),
      method: 'tools/call',
      params: { name, arguments: args },
    }),
  });
  const body = await response.text();
  if (response.status !== 200) return { status: response.status, result: body };
  const reply = parseSse(body)
    .filter((event) => event.data !== '')
    .map((event) => JSON.parse(event.data))
    .find((message) => 'result' in message || 'error' in message);
  const text = reply?.result?.content?.[0]?.text;
  return { status: 200, result: text === undefined ? reply : JSON.parse(text) };
}

/** One server-sent event. */
export interface SseEvent {
  id: string | undefined;
  data: string;
}

export function parseSse(body: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of body.split('\n\n')) {
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('id:')) id = line.slice(3).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (id !== undefined || data.length > 0) events.push({ id, data: data.join('\n') });
  }
  return events;
}

/** An SSE GET stream read incrementally; `next(n)` resolves with the next n events carrying data. */
export async function openSse(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const queue: SseEvent[] = [];
  return {
    status: response.status,
    async next(count: number): Promise<SseEvent[]> {
      while (queue.length < count) {
        if (!reader) throw new Error('no body');
        const { done, value } = await reader.read();
        if (done) throw new Error(`stream ended after ${queue.length} of ${count} events`);
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          for (const event of parseSse(buffer.slice(0, end + 2))) {
            if (event.data !== '') queue.push(event);
          }
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      }
      return queue.splice(0, count);
    },
    close: () => controller.abort(),
  };
}

/** The JSON of the first text content of an SDK tool result. */
export function textOf(result: unknown): unknown {
  const first = (result as { content?: { type: string; text?: string }[] }).content?.[0];
  if (first?.type !== 'text' || first.text === undefined) throw new Error('no text content');
  return JSON.parse(first.text);
}

/** Every `mcp-session-id` header a 2026-era client's requests and responses carried (there must be none). */
export interface HandleClient {
  client: V2Client;
  sessionIdHeaders: string[];
}

/**
 * A real SDK 2.x client speaking protocol 2026-07-28 (pinned: no fallback to the 2025 handshake), with
 * `who`'s bearer token (or none).
 */
export async function connectHandleClient(
  url: string,
  who: keyof typeof TOKENS | null,
): Promise<HandleClient> {
  const sessionIdHeaders: string[] = [];
  const client = new V2Client(
    { name: 'e2e-handles', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  const transport = new V2Transport(new URL(url), {
    ...(who === null ? {} : { requestInit: { headers: auth(who) } }),
    fetch: async (input, init) => {
      const sent = new Headers(init?.headers).get('mcp-session-id');
      const response = await fetch(input, init);
      for (const value of [sent, response.headers.get('mcp-session-id')]) {
        if (value !== null) sessionIdHeaders.push(value);
      }
      return response;
    },
  });
  await client.connect(transport);
  return { client, sessionIdHeaders };
}

/** A tool result as both SDKs return it. */
export interface ToolResult {
  content: { type: string; text: string }[];
  isError?: boolean;
}

/** Calls a tool with a 2026-era client. */
export async function callTool(
  client: V2Client,
  name: string,
  args: Record<string, unknown>,
): Promise<ToolResult> {
  return (await client.callTool({ name, arguments: args })) as ToolResult;
}
