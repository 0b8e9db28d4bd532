import { ManualClock, SessionManager } from '@mcp-session/core';
import { MemorySessionStore } from '@mcp-session/memory';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  HANDLE_AUTH_REQUIRED_MESSAGE,
  registerHandleTool,
  registerMintHandleTool,
  StateHandles,
  withHandleArgument,
} from '../src/handles/index.js';
import { cleanupAfterEach, jsonResult } from './helpers.js';

const IDLE_MS = 60_000;
const URL_BASE = 'http://mcp.test/mcp';

const cleanups = cleanupAfterEach();

/**
 * A v2 handler (2026-07-28 only) with handle tools, and real v2 clients that reach it in-process: their
 * `fetch` hands the request to the handler, with the auth info a bearer token maps to.
 */
function setup() {
  const clock = new ManualClock();
  const manager = new SessionManager({
    store: new MemorySessionStore({ sweepIntervalMs: 0 }),
    clock,
    idleTimeoutMs: IDLE_MS,
  });
  const handles = new StateHandles(manager, { mintTool: 'open_state' });
  const seeded: string[] = [];
  const handler = createMcpHandler(
    ({ era }) => {
      const server = new McpServer({ name: 'handles-v2-test', version: '1.0.0' });
      registerMintHandleTool(server, handles, 'open_state', {
        description: 'Opens a state handle.',
      });
      registerMintHandleTool(
        server,
        handles,
        'open_seeded',
        { inputSchema: z.object({ city: z.string(), fail: z.boolean().optional() }) },
        async ({ city, fail }, minted) => {
          await minted.state.set('city', city);
          seeded.push(minted.handle);
          if (fail) throw new Error('seeding failed');
          return jsonResult({ handle: minted.handle });
        },
      );
      registerHandleTool(
        server,
        handles,
        'remember',
        {
          description: 'Stores a value.',
          inputSchema: z.strictObject({ key: z.string().min(1), value: z.string() }),
        },
        async ({ key, value }, state) => {
          await state.set(key, value);
          await state.addMessage({ role: 'user', content: { tool: 'remember', key } });
          return jsonResult({ remembered: key });
        },
      );
      registerHandleTool(
        server,
        handles,
        'recall',
        { inputSchema: z.object({ key: z.string() }) },
        async ({ key }, state, ctx) =>
          jsonResult({
            value: (await state.get(key)) ?? null,
            owner: state.owner,
            era,
            sessionId: ctx.sessionId ?? null,
          }),
      );
      registerHandleTool(server, handles, 'close_then_write', {}, async (_args, state) => {
        await state.close();
        await state.set('late', true);
        return jsonResult({ wrote: true });
      });
      registerHandleTool(server, handles, 'close_state', {}, async (_args, state) =>
        jsonResult({ closed: await state.close() }),
      );
      return server;
    },
    { legacy: 'reject' },
  );
  cleanups.push(async () => {
    await handler.close();
    await manager.close();
  });

  const tokens: Record<string, string> = { 'alice-token': 'alice', 'bob-token': 'bob' };
  async function connect(token: string | null) {
    const client = new Client(
      { name: 'handles-v2-test-client', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    const transport = new StreamableHTTPClientTransport(new URL(URL_BASE), {
      fetch: async (url, init) => {
        const request = new Request(url, init);
        const owner = token === null ? undefined : tokens[token];
        return handler.fetch(
          request,
          owner === undefined
            ? {}
            : { authInfo: { token: token ?? '', clientId: owner, scopes: [] } },
        );
      },
    });
    await client.connect(transport);
    cleanups.push(() => client.close());
    return client;
  }
  return { clock, manager, handles, connect, seeded };
}

type ToolResult = { content: { type: string; text: string }[]; isError?: boolean };
const call = async (client: Client, name: string, args: Record<string, unknown>) =>
  (await client.callTool({ name, arguments: args })) as ToolResult;
const parsed = (result: ToolResult) => JSON.parse(result.content[0]?.text ?? 'null');

describe('registerHandleTool / registerMintHandleTool (SDK 2.x, protocol 2026-07-28)', () => {
  it('lists the handle argument as a required string, first, with a description naming the minting tool', async () => {
    const { connect } = setup();
    const client = await connect('alice-token');
    const { tools } = await client.listTools();
    const remember = tools.find((tool) => tool.name === 'remember');
    expect(remember?.inputSchema).toMatchObject({
      type: 'object',
      properties: {
        handle: { type: 'string', description: 'State handle (h_…) returned by open_state.' },
        key: { type: 'string' },
        value: { type: 'string' },
      },
      required: ['handle', 'key', 'value'],
      additionalProperties: false,
    });
    expect(Object.keys(remember?.inputSchema.properties ?? {})[0]).toBe('handle');
    const open = tools.find((tool) => tool.name === 'open_state');
    expect(open?.inputSchema.properties ?? {}).not.toHaveProperty('handle');
  });

  it('mints a handle in one call and uses it in later calls, each a separate stateless request', async () => {
    const { connect, clock } = setup();
    const client = await connect('alice-token');
    const opened = (await client.callTool({ name: 'open_state', arguments: {} })) as ToolResult & {
      structuredContent: { handle: string; expiresAt: string };
    };
    const { handle, expiresAt } = parsed(opened);
    expect(handle).toMatch(/^h_[A-Za-z0-9_-]{32}$/);
    expect(expiresAt).toBe(new Date(clock.now() + IDLE_MS).toISOString());
    expect(opened.structuredContent).toEqual({ handle, expiresAt });

    expect(parsed(await call(client, 'remember', { handle, key: 'city', value: 'Lyon' }))).toEqual({
      remembered: 'city',
    });
    // Another connection of the same user (no session links them): the handle is all it needs.
    const again = await connect('alice-token');
    expect(parsed(await call(again, 'recall', { handle, key: 'city' }))).toEqual({
      value: 'Lyon',
      owner: 'alice',
      era: 'modern',
      sessionId: null,
    });
    expect(again.getNegotiatedProtocolVersion()).toBe('2026-07-28');
  });

  it("answers another user's handle with a tool error telling the model to mint a new one", async () => {
    const { connect } = setup();
    const alice = await connect('alice-token');
    const { handle } = parsed(await call(alice, 'open_state', {}));
    await call(alice, 'remember', { handle, key: 'secret', value: 's3cret' });

    const bob = await connect('bob-token');
    for (const [tool, args] of [
      ['recall', { handle, key: 'secret' }],
      ['remember', { handle, key: 'secret', value: 'overwritten' }],
      ['close_state', { handle }],
    ] as const) {
      const result = await call(bob, tool, args);
      expect(result.isError, tool).toBe(true);
      expect(result.content[0]?.text).toBe(
        'State handle not found: it is unknown, expired, closed, or belongs to another user. Call open_state to get a new handle and retry with it.',
      );
    }
    expect(parsed(await call(alice, 'recall', { handle, key: 'secret' }))).toMatchObject({
      value: 's3cret',
    });
  });

  it('refuses an unauthenticated caller with a clear tool error, minting nothing', async () => {
    const { connect, manager } = setup();
    const anonymous = await connect(null);
    const opened = await call(anonymous, 'open_state', {});
    expect(opened).toMatchObject({ isError: true });
    expect(opened.content[0]?.text).toBe(HANDLE_AUTH_REQUIRED_MESSAGE);
    const used = await call(anonymous, 'recall', { handle: `h_${'A'.repeat(32)}`, key: 'k' });
    expect(used.content[0]?.text).toBe(HANDLE_AUTH_REQUIRED_MESSAGE);
    expect((await manager.getMetrics()).store.total).toBe(0);
  });

  it('expires a handle after the idle timeout (manual clock), then tells the model to mint a new one', async () => {
    const { connect, clock } = setup();
    const client = await connect('alice-token');
    const { handle } = parsed(await call(client, 'open_state', {}));
    clock.advance(IDLE_MS - 1);
    expect((await call(client, 'recall', { handle, key: 'k' })).isError).toBeFalsy();
    clock.advance(IDLE_MS);
    const expired = await call(client, 'recall', { handle, key: 'k' });
    expect(expired.isError).toBe(true);
    expect(expired.content[0]?.text).toMatch(/Call open_state to get a new handle/);
  });

  it('closes a handle: later calls get the not-found tool error', async () => {
    const { connect } = setup();
    const client = await connect('alice-token');
    const { handle } = parsed(await call(client, 'open_state', {}));
    expect(parsed(await call(client, 'close_state', { handle }))).toEqual({ closed: true });
    expect((await call(client, 'recall', { handle, key: 'k' })).isError).toBe(true);
  });

  it('turns a handle that dies while the tool runs into the same not-found tool error', async () => {
    const { connect } = setup();
    const client = await connect('alice-token');
    const { handle } = parsed(await call(client, 'open_state', {}));
    const result = await call(client, 'close_then_write', { handle });
    expect(result.isError).toBe(true);
    expect(result.content[0]?.text).toMatch(/^State handle not found: .* Call open_state/);
  });

  it('validates arguments: a missing handle, a non-string handle and a bad tool argument are tool errors naming the field', async () => {
    const { connect } = setup();
    const client = await connect('alice-token');
    const { handle } = parsed(await call(client, 'open_state', {}));
    const missing = await call(client, 'recall', { key: 'k' });
    expect(missing.isError).toBe(true);
    expect(missing.content[0]?.text).toMatch(/handle: Expected a state handle string/);
    expect((await call(client, 'recall', { handle: 42, key: 'k' })).isError).toBe(true);
    const badKey = await call(client, 'remember', { handle, key: '', value: 'v' });
    expect(badKey.isError).toBe(true);
    expect(badKey.content[0]?.text).toMatch(/key/);
    // The tool's strict schema still applies to its own arguments, not to `handle`.
    expect(
      (await call(client, 'remember', { handle, key: 'k', value: 'v', extra: 1 })).isError,
    ).toBe(true);
    expect((await call(client, 'remember', { handle, key: 'k', value: 'v' })).isError).toBeFalsy();
  });

  it('a minting tool with a callback seeds the new state; if the callback throws, the handle is purged', async () => {
    const { connect, manager, seeded } = setup();
    const client = await connect('alice-token');
    const { handle } = parsed(await call(client, 'open_seeded', { city: 'Lyon' }));
    expect(parsed(await call(client, 'recall', { handle, key: 'city' }))).toMatchObject({
      value: 'Lyon',
    });
    const failed = await call(client, 'open_seeded', { city: 'Nice', fail: true });
    expect(failed.isError).toBe(true);
    expect(failed.content[0]?.text).toMatch(/seeding failed/);
    expect(seeded).toHaveLength(2);
    expect((await manager.getMetrics()).store.total).toBe(1);
  });
});

describe('withHandleArgument', () => {
  it('refuses schemas that cannot take a handle argument, at registration', () => {
    expect(() => withHandleArgument(z.object({ handle: z.string() }), 'h')).toThrow(
      /must not define "handle"/,
    );
    expect(() => withHandleArgument(z.string() as never, 'h')).toThrow(/must describe an object/);
    expect(() =>
      withHandleArgument(
        { '~standard': { version: 1, vendor: 'x', validate: () => ({ value: {} }) } } as never,
        'h',
      ),
    ).toThrow(/JSON Schema support/);
  });

  it('validates through async schemas and reports the handle issue together with the others', async () => {
    const schema = withHandleArgument(
      z.object({ n: z.number().refine(async (value) => value > 0, 'n must be positive') }),
      'the handle',
    );
    expect(await schema['~standard'].validate({ handle: 'h_x', n: 1 })).toEqual({
      value: { handle: 'h_x', n: 1 },
    });
    const result = await schema['~standard'].validate({ n: -1 });
    expect(result.issues?.map((issue) => issue.message)).toEqual([
      'Expected a state handle string. the handle',
      'n must be positive',
    ]);
    expect((await schema['~standard'].validate('not an object')).issues).toHaveLength(1);
  });
});
