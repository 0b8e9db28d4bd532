/**
 * Issue 15, "raw session ids at rest": a tool reply that contained the session id (`session_info`) put
 * the raw id into the SQLite, file, Redis and Postgres dumps, and an id copied from a dump worked; any
 * tool returning a secret leaked it the same way. Now the event store seals what it keeps.
 *
 * A scripted conversation with the reference server (a child process) whose tool replies and
 * notifications carry the session id, a state handle minted on the 2026 leg and a secret, all over SSE
 * (the events the store keeps); then everything the backend holds is dumped out of band — every file,
 * every key and value, every row — and must hold none of them, raw or base64-encoded.
 *
 * The first case keeps the three strings out of context and history (`notify` and `session_info` write
 * neither), so a leak there is the event store's. The second enables at-rest encryption
 * (`SESSION_ENCRYPTION_KEYS_FILE`) and stores all three in context and history with `remember`, on both
 * eras: none may be in clear either.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshDirectory } from '@mcp-session/test-utils';
import { dumpStore as dump, needlesOf } from '@mcp-session/test-utils/dump';
import { testStore } from '@mcp-session/test-utils/stores';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import {
  auth,
  callTool,
  connectHandleClient,
  openSse,
  postHeaders,
  rawCallTool,
  startServer,
  stopAllServers,
  TOKENS_ENV,
  textOf,
} from './helpers.js';

afterAll(stopAllServers);

const alice = auth('alice');

const dataOf = (event: { data: string }) =>
  (JSON.parse(event.data) as { params: { data: string } }).params.data;

/** Initialize with a client name of our choosing: metadata stays in clear by design, so it is the canary. */
async function initialize(url: string, clientName: string): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: postHeaders(alice),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: clientName, version: '1.0.0' },
      },
    }),
  });
  await response.text();
  const sessionId = response.headers.get('mcp-session-id');
  expect(response.status).toBe(200);
  expect(sessionId).toMatch(/^[\x21-\x7e]+$/);
  const initialized = await fetch(url, {
    method: 'POST',
    headers: postHeaders({ ...alice, 'mcp-session-id': sessionId ?? '' }),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  expect(initialized.status).toBe(202);
  return sessionId ?? '';
}

describe.each(['sqlite', 'file', 'redis', 'postgres'] as const)(
  'a dump of the %s store after a conversation echoing secrets',
  (kind) => {
    it('holds no session id, handle or secret, raw or base64, whether taken live (WAL included) or after shutdown', async () => {
      const store = await testStore(kind);
      try {
        const server = await startServer({
          SESSION_STORE_URL: store.url,
          MCP_TOKENS: TOKENS_ENV,
        });
        const url = server.url;

        // The 2026 leg mints a handle: a live credential for alice's state.
        const { client } = await connectHandleClient(url, 'alice');
        const { handle } = textOf(await callTool(client, 'open_state', {})) as { handle: string };
        await client.close();
        expect(handle).toMatch(/^h_/);

        const canary = `canary-client-${randomBytes(12).toString('hex')}`;
        const sessionId = await initialize(url, canary);
        const secret = `sk-live-${randomBytes(24).toString('hex')}`;
        const session = { ...alice, 'mcp-session-id': sessionId };

        // On the GET stream, live: the events carry the handle and the secret.
        const live = await openSse(url, session);
        expect(live.status).toBe(200);
        const message = `handle ${handle} secret ${secret}`;
        await rawCallTool(url, sessionId, 'notify', { message, count: 2 }, alice);
        const seen = await live.next(2);
        expect(seen.map(dataOf)).toEqual([`${message} 1/2`, `${message} 2/2`]);
        live.close();
        // Missed by the client: kept for it in the store.
        await rawCallTool(url, sessionId, 'notify', { message: secret, count: 1 }, alice);

        // A POST answered with SSE whose reply is the session id; its event id says it was stored.
        const info = await rawCallTool(url, sessionId, 'session_info', {}, alice);
        expect(info.result).toMatchObject({ sessionId, owner: 'alice' });
        const replyEvent = info.events.find((event) => event.data.includes(sessionId));
        expect(replyEvent?.id?.split('.')).toHaveLength(3);

        // Resuming gets the missed events back whole: they are in the store, sealed.
        const resumed = await openSse(url, { ...session, 'last-event-id': seen[0]?.id ?? '' });
        expect((await resumed.next(2)).map(dataOf)).toEqual([`${message} 2/2`, `${secret} 1/1`]);
        resumed.close();

        const needles = needlesOf({
          sessionId,
          handle,
          "handle's session id": handle.slice('h_'.length),
          secret,
        });
        const found = (bytes: Buffer) =>
          Object.entries(needles)
            .filter(([, needle]) => bytes.includes(needle))
            .map(([name]) => name);

        const liveDump = await dump(kind, store.url);
        // The dump shows what is in clear: the client's name, in the session's metadata.
        expect(liveDump.includes(canary)).toBe(true);
        expect(found(liveDump)).toEqual([]);

        // A graceful stop checkpoints SQLite's WAL into the database file.
        expect(await server.stop('SIGTERM')).toBe(0);
        const finalDump = await dump(kind, store.url);
        expect(finalDump.includes(canary)).toBe(true);
        expect(found(finalDump)).toEqual([]);
      } finally {
        await store.cleanup();
      }
    }, 60_000);

    it('with SESSION_ENCRYPTION_KEYS_FILE, holds none of them either when tools store them in context and history', async () => {
      const store = await testStore(kind);
      const keysDir = freshDirectory('dump-keys');
      try {
        const keyId = `dump-${randomBytes(4).toString('hex')}`;
        const keysFile = join(keysDir.path, 'keys.json');
        writeFileSync(
          keysFile,
          JSON.stringify({ current: keyId, keys: { [keyId]: randomBytes(32).toString('base64') } }),
        );
        const server = await startServer({
          SESSION_STORE_URL: store.url,
          MCP_TOKENS: TOKENS_ENV,
          SESSION_ENCRYPTION_KEYS_FILE: keysFile,
        });
        const url = server.url;
        const secret = `sk-live-${randomBytes(24).toString('hex')}`;

        // The 2026 leg: the handle's own state remembers the secret and the handle itself.
        const { client } = await connectHandleClient(url, 'alice');
        const { handle } = textOf(await callTool(client, 'open_state', {})) as { handle: string };
        await callTool(client, 'remember', { handle, key: 'secret', value: secret });
        await callTool(client, 'remember', { handle, key: 'handle', value: handle });
        expect(textOf(await callTool(client, 'recall', { handle, key: 'secret' }))).toEqual({
          key: 'secret',
          value: secret,
        });
        await client.close();

        // The 2025 leg: the session remembers its own id, the handle and the secret.
        const canary = `canary-client-${randomBytes(12).toString('hex')}`;
        const sessionId = await initialize(url, canary);
        for (const [key, value] of Object.entries({ sessionId, handle, secret })) {
          await rawCallTool(url, sessionId, 'remember', { key, value }, alice);
        }
        const recalled = await rawCallTool(url, sessionId, 'recall', { key: 'sessionId' }, alice);
        expect(recalled.result).toMatchObject({ key: 'sessionId', value: sessionId });
        const history = await rawCallTool(url, sessionId, 'history', {}, alice);
        expect(JSON.stringify(history.result)).toContain(secret);

        const needles = needlesOf({
          sessionId,
          handle,
          "handle's session id": handle.slice('h_'.length),
          secret,
        });
        const found = (bytes: Buffer) =>
          Object.entries(needles)
            .filter(([, needle]) => bytes.includes(needle))
            .map(([name]) => name);

        for (const stop of [false, true]) {
          if (stop) expect(await server.stop('SIGTERM')).toBe(0);
          const bytes = await dump(kind, store.url);
          expect(bytes.includes(canary)).toBe(true);
          // The values are there, encrypted under the file's key; key names stay visible.
          expect(bytes.includes(`mcpenc:1:${keyId}:`)).toBe(true);
          expect(bytes.includes('sessionId')).toBe(true);
          expect(found(bytes)).toEqual([]);
        }
      } finally {
        keysDir.remove();
        await store.cleanup();
      }
    }, 60_000);
  },
);
