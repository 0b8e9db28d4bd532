import { type ChildProcess, spawn } from 'node:child_process';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createRequire } from 'node:module';
import { type AddressInfo, connect, createServer as createTcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { rawInitialized, rawInitialize as sendInitialize } from '@mcp-session/test-utils/mcp';
import { testStore } from '@mcp-session/test-utils/stores';
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';

export {
  openSse,
  parseSse,
  postHeaders,
  rawCallTool,
  type SseEvent,
  textOf,
} from '@mcp-session/test-utils/mcp';

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

/** The tsx loader, by path, so a server can be started from any working directory. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * Starts `src/main.ts` in a child process (`node --import tsx`, with the source export condition from
 * NODE_OPTIONS) and waits for its "listening" line. PORT 0 picks a free port; pass the previous port to
 * restart on the same address. It runs in the app's directory unless `cwd` says otherwise.
 */
export async function startServer(
  env: Record<string, string>,
  port = 0,
  cwd = APP_DIR,
): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, join(APP_DIR, 'src/main.ts')], {
    cwd,
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

export type { TestStore } from '@mcp-session/test-utils/stores';

/** A fresh store of each backend, removed by its `cleanup` (see `@mcp-session/test-utils/stores`). */
export const sqliteStore = () => testStore('sqlite');
export const fileStore = () => testStore('file');
export const redisStore = () => testStore('redis');
export const postgresStore = () => testStore('postgres');

/** One request that went through the round-robin proxy. */
export interface ProxiedRequest {
  /** Index of the instance it went to. */
  target: number;
  method: string;
  authorization: string | undefined;
  /** The request body as far as it was read (POSTs). */
  body: string;
  /** Status of the instance's answer, once its headers arrived. */
  status?: number;
}

/** A round-robin HTTP proxy in front of several instances. */
export interface RoundRobinProxy {
  url: string;
  hits: number[];
  /** Every request, in the order it arrived. */
  requests: ProxiedRequest[];
  /** Stops sending requests to instance `index` (a load balancer's failed health check). */
  drop(index: number): void;
  close(): Promise<void>;
}

/**
 * A round-robin HTTP proxy in front of several instances: every request goes to the next instance not
 * dropped; streams responses (SSE included).
 */
export async function startRoundRobinProxy(targets: string[]): Promise<RoundRobinProxy> {
  const hits = targets.map(() => 0);
  const requests: ProxiedRequest[] = [];
  const dropped = new Set<number>();
  let next = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let index = next++ % targets.length;
    for (let tries = 0; dropped.has(index) && tries < targets.length; tries++) {
      index = next++ % targets.length;
    }
    hits[index] = (hits[index] ?? 0) + 1;
    const record: ProxiedRequest = {
      target: index,
      method: req.method ?? '',
      authorization: req.headers.authorization,
      body: '',
    };
    requests.push(record);
    req.on('data', (chunk: Buffer) => {
      record.body += chunk.toString();
    });
    const target = new URL(req.url ?? '/', targets[index]);
    const upstream = httpRequest(
      target,
      { method: req.method, headers: { ...req.headers, host: target.host } },
      (response) => {
        record.status = response.statusCode ?? 502;
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
        // An instance that dies mid-stream cuts the client's connection too, as a load balancer does.
        response.on('close', () => {
          if (!response.complete) res.destroy();
        });
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
    requests,
    drop: (index) => {
      dropped.add(index);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A TCP proxy to `target` (host:port of a real server) that a test cuts to make that server unreachable. */
export interface TcpProxy {
  port: number;
  /** Closes every proxied connection and refuses new ones. */
  cut(): void;
  /** Accepts and forwards connections again. */
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let cut = false;
  const server = createTcpServer((client) => {
    if (cut) return client.destroy();
    const upstream = connect(target.port, target.host);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        sockets.delete(from);
        to.destroy();
      });
      from.pipe(to);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const destroyAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    port: (server.address() as AddressInfo).port,
    cut: () => {
      cut = true;
      destroyAll();
    },
    restore: () => {
      cut = false;
    },
    close: async () => {
      destroyAll();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A raw TCP connection to a server, for requests no HTTP client would send (slow, partial, malformed). */
export interface RawConnection {
  socket: Socket;
  /** Resolves with the first data the server sent, or with '' when it closed the connection first. */
  answer: Promise<string>;
  /** Resolves with everything the server sent once it closed the connection. */
  closed: Promise<string>;
}

/** Opens a raw connection to `port` on loopback, writes `text` once connected, and collects the answer. */
export async function rawConnection(port: number, text = ''): Promise<RawConnection> {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    data += chunk;
  });
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(data)));
  const answer = new Promise<string>((resolve) => {
    socket.once('data', (chunk: string) => resolve(chunk));
    void closed.then(resolve);
  });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  if (text !== '') socket.write(text);
  return { socket, answer, closed };
}

/** A raw initialize followed by `notifications/initialized` (no SDK client). */
export async function rawInitialize(url: string, headers: Record<string, string> = {}) {
  const { response, sessionId } = await sendInitialize(url, headers);
  if (response.status === 200 && sessionId) await rawInitialized(url, sessionId, headers);
  return { status: response.status, sessionId: sessionId ?? '' };
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
