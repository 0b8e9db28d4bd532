import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { SessionManager } from '@mcp-session/core';
import { RedisSessionStore } from '@mcp-session/redis';
import { freshRedisPrefix, REDIS_URL, removeRedisPrefix } from '@mcp-session/test-utils/redis';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpServer as McpServerV1 } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpHandler, McpServer as McpServerV2 } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { registerHandleTool, registerMintHandleTool, StateHandles } from '../src/handles/index.js';
import { registerHandleToolV1, registerMintHandleToolV1 } from '../src/index.js';
import { cleanupAfterEach, jsonResult } from './helpers.js';

const cleanups = cleanupAfterEach();
const STORE_UNAVAILABLE_MESSAGE = 'Session store unavailable; retry shortly.';
const AUTH: AuthInfo = { token: 'alice-token', clientId: 'alice', scopes: [] };

/** A TCP proxy to the test Redis that the test can cut: the store then really is unreachable. */
async function redisBehindProxy() {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let cut = false;
  const proxy = createTcpServer((client) => {
    if (cut) return client.destroy();
    const upstream = connect(Number(target.port || 6379), target.hostname);
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
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const prefix = freshRedisPrefix('store-down');
  const port = (proxy.address() as AddressInfo).port;
  const manager = new SessionManager({
    store: new RedisSessionStore({
      url: `redis://127.0.0.1:${port}?prefix=${prefix}&commandTimeoutMs=2000`,
    }),
  });
  cleanups.push(async () => {
    await manager.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => proxy.close(resolve));
    await removeRedisPrefix(prefix);
  });
  return {
    handles: new StateHandles(manager, { mintTool: 'open_state' }),
    cutStore() {
      cut = true;
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** The JSON-RPC error a failed request was answered with, as the client saw it. */
async function requestError(call: Promise<unknown>): Promise<{ code: unknown; message: string }> {
  const error = (await call.then(
    (result) => {
      throw new Error(`expected a JSON-RPC error, got ${JSON.stringify(result)}`);
    },
    (thrown: unknown) => thrown,
  )) as { code?: unknown; message: string };
  return { code: error.code, message: error.message };
}

describe('handle tools while the store is down (pins: a tool result carrying the backend’s message)', () => {
  it('SDK 2.x, protocol 2026-07-28: JSON-RPC error -32603 without internal details, for handle and mint tools', async () => {
    const { handles, cutStore } = await redisBehindProxy();
    const handler = createMcpHandler(
      () => {
        const server = new McpServerV2({ name: 'store-down-v2', version: '1.0.0' });
        registerMintHandleTool(server, handles, 'open_state', {});
        registerHandleTool(
          server,
          handles,
          'recall',
          { inputSchema: z.object({ key: z.string() }) },
          async ({ key }, state) => jsonResult({ value: (await state.get(key)) ?? null }),
        );
        server.registerTool('fails', {}, async () => {
          throw new Error('an ordinary tool failure');
        });
        return server;
      },
      { legacy: 'reject' },
    );
    cleanups.push(() => handler.close());
    const client = new ClientV2(
      { name: 'store-down-v2-client', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await client.connect(
      new TransportV2(new URL('http://mcp.test/mcp'), {
        fetch: (url, init) => handler.fetch(new Request(url, init), { authInfo: AUTH }),
      }),
    );
    cleanups.push(() => client.close());
    const opened = await client.callTool({ name: 'open_state', arguments: {} });
    const { handle } = opened.structuredContent as { handle: string };
    expect(
      await client.callTool({ name: 'recall', arguments: { handle, key: 'k' } }),
    ).toMatchObject({ content: [{ type: 'text', text: '{"value":null}' }] });

    cutStore();
    for (const [name, args] of [
      ['recall', { handle, key: 'k' }],
      ['open_state', {}],
    ] as const) {
      const error = await requestError(client.callTool({ name, arguments: args }));
      expect(error.code, name).toBe(-32603);
      expect(error.message, name).toContain(STORE_UNAVAILABLE_MESSAGE);
      expect(error.message, name).not.toMatch(/redis|127\.0\.0\.1|failed:/i);
    }
    // Only store outages escape as request errors; any other tool failure stays a tool result.
    expect(await client.callTool({ name: 'fails', arguments: {} })).toMatchObject({
      isError: true,
      content: [{ type: 'text', text: 'an ordinary tool failure' }],
    });
  });

  it('SDK 1.x, stateless: JSON-RPC error -32603 without internal details, for handle and mint tools', async () => {
    const { handles, cutStore } = await redisBehindProxy();
    const http: Server = createServer(async (req: IncomingMessage & { auth?: AuthInfo }, res) => {
      req.auth = AUTH;
      const server = new McpServerV1({ name: 'store-down-v1', version: '1.0.0' });
      registerMintHandleToolV1(server, handles, 'open_state', {});
      registerHandleToolV1(
        server,
        handles,
        'recall',
        { inputSchema: { key: z.string() } },
        async ({ key }, state) => jsonResult({ value: (await state.get(key)) ?? null }),
      );
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => void server.close());
      await server.connect(transport);
      await transport.handleRequest(req, res);
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    });
    const client = new ClientV1({ name: 'store-down-v1-client', version: '1.0.0' });
    await client.connect(
      new TransportV1(new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`)),
    );
    cleanups.push(() => client.close());
    const opened = await client.callTool({ name: 'open_state', arguments: {} });
    const { handle } = opened.structuredContent as { handle: string };

    cutStore();
    for (const [name, args] of [
      ['recall', { handle, key: 'k' }],
      ['open_state', {}],
    ] as const) {
      const error = await requestError(client.callTool({ name, arguments: args }));
      expect(error.code, name).toBe(-32603);
      expect(error.message, name).toContain(STORE_UNAVAILABLE_MESSAGE);
      expect(error.message, name).not.toMatch(/redis|127\.0\.0\.1|failed:/i);
    }
  });
});
