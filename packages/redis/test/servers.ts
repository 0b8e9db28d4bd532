import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

/** Whether a loopback port can be bound right now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A spare loopback port whose +10000 neighbour (the Cluster bus port) is spare too. Ports are drawn at
 * random from a range ephemeral ports do not use, so parallel runs rarely collide.
 */
export async function sparePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if ((await portIsFree(port)) && (await portIsFree(port + 10_000))) return port;
  }
  throw new Error('No spare port pair found');
}

/** Polls `check` until it returns true; for waiting on servers, never on TTLs. */
export async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A private redis-server process. */
export interface RedisServer {
  port: number;
  process: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

/** Starts redis-server on `port` with its files in `dir`, and waits until it answers PING. */
export async function startRedis(
  port: number,
  dir: string,
  settings: string[] = [],
): Promise<RedisServer> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--logfile',
      join(dir, 'redis.log'),
      '--save',
      '',
      ...settings,
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const probe = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    retryStrategy: () => null,
  });
  probe.on('error', () => undefined);
  try {
    await waitUntil(async () => {
      if (probe.status !== 'ready') await probe.connect();
      return (await probe.ping()) === 'PONG';
    }, `redis-server on port ${port}`);
  } finally {
    probe.disconnect();
  }
  return { port, process: child, exited };
}

/** Kills a server (SIGKILL: no chance to save) and waits for it to be gone. */
export async function killRedis(server: RedisServer): Promise<void> {
  server.process.kill('SIGKILL');
  await server.exited;
}

/** Forms a cluster of masters with redis-cli and waits until every node reports cluster_state:ok. */
export async function createCluster(ports: number[]): Promise<void> {
  await run('redis-cli', [
    '--cluster',
    'create',
    ...ports.map((port) => `127.0.0.1:${port}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  for (const port of ports) {
    const node = new Redis({ port, host: '127.0.0.1' });
    try {
      await waitUntil(
        async () => String(await node.cluster('INFO')).includes('cluster_state:ok'),
        `cluster_state:ok on port ${port}`,
      );
    } finally {
      node.disconnect();
    }
  }
}

/**
 * A TCP proxy to a local port that can cut the network: `cut()` drops every connection and refuses new
 * ones until `heal()`. The server behind it keeps running (and keeps its script cache).
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #cut = false;

  private constructor(
    readonly port: number,
    target: number,
  ) {
    this.#server = createServer((client) => {
      if (this.#cut) {
        client.destroy();
        return;
      }
      const upstream = connect(target, '127.0.0.1');
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.#sockets.add(from);
        from.on('error', () => to.destroy());
        from.on('close', () => {
          this.#sockets.delete(from);
          to.destroy();
        });
        from.pipe(to);
      }
    });
  }

  static async start(target: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(await sparePort(), target);
    await new Promise<void>((resolve) => proxy.#server.listen(proxy.port, '127.0.0.1', resolve));
    return proxy;
  }

  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  heal(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}
