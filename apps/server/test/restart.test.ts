import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, describe, expect, it } from 'vitest';
import {
  auth,
  fileStore,
  postgresStore,
  redisStore,
  sqliteStore,
  startServer,
  stopAllServers,
  type TestStore,
  TOKENS_ENV,
  textOf,
} from './helpers.js';

afterAll(stopAllServers);

const STORES: { name: string; open: () => Promise<TestStore> }[] = [
  { name: 'SQLite', open: sqliteStore },
  { name: 'file', open: fileStore },
  { name: 'Redis', open: redisStore },
  { name: 'Postgres', open: postgresStore },
];

describe.each(STORES)('restart on the $name store', ({ open }) => {
  it('a client keeps its session id and context across a SIGKILL and a restart, without re-initializing', async () => {
    const store = await open();
    try {
      const env = { SESSION_STORE_URL: store.url, MCP_TOKENS: TOKENS_ENV };
      const first = await startServer({ ...env, INSTANCE_NAME: 'before-crash' });

      let initializes = 0;
      const client = new Client({ name: 'e2e-restart', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(first.url), {
        requestInit: { headers: auth('alice') },
        // Counts the initializes this client sends: there must be exactly one.
        fetch: (url, init) => {
          if (typeof init?.body === 'string' && init.body.includes('"method":"initialize"'))
            initializes++;
          return fetch(url, init);
        },
        reconnectionOptions: {
          initialReconnectionDelay: 100,
          maxReconnectionDelay: 100,
          reconnectionDelayGrowFactor: 1,
          maxRetries: 0,
        },
      });
      client.onerror = () => {}; // the GET stream breaking at the kill is expected
      await client.connect(transport);
      const sessionId = transport.sessionId;
      await client.callTool({ name: 'remember', arguments: { key: 'city', value: 'Lyon' } });

      expect(await first.stop('SIGKILL')).toBeNull();
      const second = await startServer({ ...env, INSTANCE_NAME: 'after-restart' }, first.port);

      const recall = await client.callTool({ name: 'recall', arguments: { key: 'city' } });
      expect(textOf(recall)).toEqual({ key: 'city', value: 'Lyon' });
      expect(transport.sessionId).toBe(sessionId);
      expect(initializes).toBe(1);
      const info = textOf(await client.callTool({ name: 'session_info', arguments: {} }));
      expect(info).toMatchObject({
        sessionId,
        owner: 'alice',
        instance: 'after-restart',
        messageCount: 2,
      });

      await client.close();
      await second.stop('SIGKILL');
    } finally {
      await store.cleanup();
    }
  });
});

describe('graceful shutdown', () => {
  it('exits 0 on SIGTERM and keeps the sessions for the next start', async () => {
    const store = await sqliteStore();
    try {
      const env = { SESSION_STORE_URL: store.url, MCP_TOKENS: TOKENS_ENV };
      const first = await startServer(env);
      const client = new Client({ name: 'e2e-shutdown', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(first.url), {
        requestInit: { headers: auth('bob') },
        reconnectionOptions: {
          initialReconnectionDelay: 100,
          maxReconnectionDelay: 100,
          reconnectionDelayGrowFactor: 1,
          maxRetries: 0,
        },
      });
      client.onerror = () => {};
      await client.connect(transport);
      await client.callTool({ name: 'remember', arguments: { key: 'k', value: 'v' } });

      expect(await first.stop('SIGTERM')).toBe(0);
      expect(first.output.join('')).toMatch(/sessions stay in the store/);
      const second = await startServer(env, first.port);
      const recall = await client.callTool({ name: 'recall', arguments: { key: 'k' } });
      expect(textOf(recall)).toEqual({ key: 'k', value: 'v' });
      await client.close();
      await second.stop('SIGTERM');
    } finally {
      await store.cleanup();
    }
  });
});
