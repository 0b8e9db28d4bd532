import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock, SessionManager } from '@mcp-session/core';
import { MemorySessionStore } from '@mcp-session/memory';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import * as z3 from 'zod/v3';
import {
  HANDLE_AUTH_REQUIRED_MESSAGE,
  registerHandleToolV1,
  registerMintHandleToolV1,
  StateHandles,
} from '../src/index.js';
import { cleanupAfterEach, jsonResult } from './helpers.js';

const IDLE_MS = 60_000;
const TOKENS: Record<string, string> = { 'alice-token': 'alice', 'bob-token': 'bob' };

const cleanups = cleanupAfterEach();

/**
 * An SDK 1.x server in stateless mode (a new McpServer and transport per request, no session id) with
 * handle tools, on a loopback port; bearer tokens become `req.auth`, which the SDK hands tools as
 * `extra.authInfo`.
 */
async function setup() {
  const clock = new ManualClock();
  const manager = new SessionManager({
    store: new MemorySessionStore({ sweepIntervalMs: 0 }),
    clock,
    idleTimeoutMs: IDLE_MS,
  });
  const handles = new StateHandles(manager, { mintTool: 'open_state' });
  const build = () => {
    const server = new McpServer({ name: 'handles-v1-test', version: '1.0.0' });
    registerMintHandleToolV1(server, handles, 'open_state', {
      description: 'Opens a state handle.',
    });
    registerMintHandleToolV1(
      server,
      handles,
      'open_seeded',
      { inputSchema: { city: z.string() } },
      async ({ city }, minted, extra) => {
        await minted.state.set('city', city);
        return jsonResult({ handle: minted.handle, by: extra.authInfo?.clientId });
      },
    );
    // Zod 4 raw shape.
    registerHandleToolV1(
      server,
      handles,
      'remember',
      { inputSchema: { key: z.string().min(1), value: z.string() } },
      async ({ key, value }, state) => {
        await state.set(key, value);
        return jsonResult({ remembered: key });
      },
    );
    // Zod 4 strict object.
    registerHandleToolV1(
      server,
      handles,
      'recall',
      { inputSchema: z.strictObject({ key: z.string() }) },
      async ({ key }, state, extra) =>
        jsonResult({
          value: (await state.get(key)) ?? null,
          owner: state.owner,
          sessionId: extra.sessionId ?? null,
        }),
    );
    // Zod 3 raw shape.
    registerHandleToolV1(
      server,
      handles,
      'count',
      { inputSchema: { by: z3.number().int() } },
      async ({ by }, state) => {
        const next = (((await state.get('count')) as number | undefined) ?? 0) + by;
        await state.set('count', next);
        return jsonResult({ count: next });
      },
    );
    // No arguments of its own.
    registerHandleToolV1(server, handles, 'close_state', {}, async (_args, state) =>
      jsonResult({ closed: await state.close() }),
    );
    return server;
  };

  const http = createServer(async (req: IncomingMessage & { auth?: AuthInfo }, res) => {
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const owner = token === undefined ? undefined : TOKENS[token];
    if (token !== undefined && owner !== undefined)
      req.auth = { token, clientId: owner, scopes: [] };
    const server = build();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => void server.close());
    await server.connect(transport);
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);
  cleanups.push(async () => {
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
    await manager.close();
  });

  async function connect(token: string | null) {
    const client = new Client({ name: 'handles-v1-test-client', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(url, {
      requestInit: token === null ? {} : { headers: { authorization: `Bearer ${token}` } },
    });
    await client.connect(transport);
    cleanups.push(() => client.close());
    return { client, transport };
  }
  return { clock, manager, connect, build, handles };
}

type ToolResult = { content: { type: string; text: string }[]; isError?: boolean };
const call = async (client: Client, name: string, args: Record<string, unknown>) =>
  (await client.callTool({ name, arguments: args })) as ToolResult;
const parsed = (result: ToolResult) => JSON.parse(result.content[0]?.text ?? 'null');

describe('registerHandleToolV1 / registerMintHandleToolV1 (SDK 1.x, stateless mode)', () => {
  it('adds a required handle string to Zod 4 shapes and objects, Zod 3 shapes and argument-less tools', async () => {
    const { connect } = await setup();
    const { client, transport } = await connect('alice-token');
    expect(transport.sessionId).toBeUndefined();
    const { tools } = await client.listTools();
    const schema = (name: string) => tools.find((tool) => tool.name === name)?.inputSchema;
    for (const [name, others] of [
      ['remember', ['key', 'value']],
      ['recall', ['key']],
      ['count', ['by']],
      ['close_state', []],
    ] as const) {
      expect(schema(name)?.required, name).toEqual(expect.arrayContaining(['handle', ...others]));
      expect(schema(name)?.properties?.handle, name).toMatchObject({
        type: 'string',
        description: 'State handle (h_…) returned by open_state.',
      });
    }
    expect(schema('recall')).toMatchObject({ additionalProperties: false });
    expect(schema('open_state')?.properties ?? {}).not.toHaveProperty('handle');
  });

  it('mints a handle and uses it in later stateless requests and connections', async () => {
    const { connect } = await setup();
    const { client } = await connect('alice-token');
    const { handle, expiresAt } = parsed(await call(client, 'open_state', {}));
    expect(handle).toMatch(/^h_[A-Za-z0-9_-]{32}$/);
    expect(typeof expiresAt).toBe('string');
    await call(client, 'remember', { handle, key: 'city', value: 'Lyon' });
    expect(parsed(await call(client, 'count', { handle, by: 2 }))).toEqual({ count: 2 });
    const { client: again } = await connect('alice-token');
    expect(parsed(await call(again, 'recall', { handle, key: 'city' }))).toEqual({
      value: 'Lyon',
      owner: 'alice',
      sessionId: null,
    });
    expect(parsed(await call(again, 'count', { handle, by: 3 }))).toEqual({ count: 5 });
    const seeded = parsed(await call(again, 'open_seeded', { city: 'Nice' }));
    expect(seeded.by).toBe('alice');
    expect(
      parsed(await call(again, 'recall', { handle: seeded.handle, key: 'city' })),
    ).toMatchObject({
      value: 'Nice',
    });
  });

  it("gives another user's handle, a closed and an expired handle the not-found tool error", async () => {
    const { connect, clock } = await setup();
    const { client: alice } = await connect('alice-token');
    const { handle } = parsed(await call(alice, 'open_state', {}));
    const { client: bob } = await connect('bob-token');
    const foreign = await call(bob, 'recall', { handle, key: 'k' });
    expect(foreign.isError).toBe(true);
    expect(foreign.content[0]?.text).toMatch(/belongs to another user\. Call open_state/);
    expect(parsed(await call(alice, 'recall', { handle, key: 'k' }))).toMatchObject({
      value: null,
    });

    const { handle: toClose } = parsed(await call(alice, 'open_state', {}));
    expect(parsed(await call(alice, 'close_state', { handle: toClose }))).toEqual({ closed: true });
    expect((await call(alice, 'recall', { handle: toClose, key: 'k' })).isError).toBe(true);

    clock.advance(IDLE_MS);
    expect((await call(alice, 'recall', { handle, key: 'k' })).isError).toBe(true);
  });

  it('refuses an unauthenticated caller with a clear tool error', async () => {
    const { connect, manager } = await setup();
    const { client } = await connect(null);
    const result = await call(client, 'open_state', {});
    expect(result).toMatchObject({ isError: true });
    expect(result.content[0]?.text).toBe(HANDLE_AUTH_REQUIRED_MESSAGE);
    expect((await manager.getMetrics()).store.total).toBe(0);
  });

  it('reports a missing or empty handle as an argument error', async () => {
    const { connect } = await setup();
    const { client } = await connect('alice-token');
    for (const args of [{ key: 'k' }, { handle: '', key: 'k' }, { handle: 7, key: 'k' }]) {
      const result = await call(client, 'recall', args);
      expect(result.isError, JSON.stringify(args)).toBe(true);
      expect(result.content[0]?.text).toMatch(/handle/);
    }
  });

  it('refuses, at registration, schemas that define handle or are not objects', async () => {
    const { handles } = await setup();
    const server = new McpServer({ name: 'x', version: '1' });
    const noop = async () => jsonResult({});
    expect(() =>
      registerHandleToolV1(server, handles, 'a', { inputSchema: { handle: z.string() } }, noop),
    ).toThrow(/must not define "handle"/);
    expect(() =>
      registerHandleToolV1(server, handles, 'b', { inputSchema: z.string() }, noop),
    ).toThrow(/Zod object schema or raw shape/);
    expect(() =>
      registerHandleToolV1(
        server,
        handles,
        'c',
        { inputSchema: z3.object({ handle: z3.string() }) },
        noop,
      ),
    ).toThrow(/must not define "handle"/);
  });
});
