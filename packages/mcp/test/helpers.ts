import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ElicitResultSchema, ListRootsResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { McpServer as McpServerV2 } from '@modelcontextprotocol/server';
import * as z from 'zod';
import {
  registerHandleTool,
  registerMintHandleTool,
  type StateHandles,
} from '../src/handles/index.js';
import type { McpSessionHandler, ServerFactory } from '../src/index.js';

/** Owner header the tests' resolver reads (a stand-in for real authentication). */
export const OWNER_HEADER = 'x-test-owner';

/** Owner resolver for tests: the `x-test-owner` header, else unbound. */
export const ownerFromHeader = ({ request }: { request: Request }): string | null =>
  request.headers.get(OWNER_HEADER);

const text = (value: unknown) => ({
  content: [{ type: 'text' as const, text: JSON.stringify(value) }],
});

/** A server with tools that exercise the session, the client's capabilities and the log level. */
export const demoServer: ServerFactory = ({ sessionId, session }) => {
  const mcp = new McpServer(
    { name: 'mcp-session-test', version: '1.0.0' },
    { capabilities: { logging: {} } },
  );
  mcp.registerTool(
    'remember',
    { inputSchema: { key: z.string(), value: z.string() } },
    async ({ key, value }) => {
      await session.set(key, value);
      return text({ ok: true });
    },
  );
  mcp.registerTool('recall', { inputSchema: { key: z.string() } }, async ({ key }) =>
    text({ value: (await session.get(key)) ?? null }),
  );
  mcp.registerTool('whoami', {}, async (extra) =>
    text({
      sessionId,
      extraSessionId: extra.sessionId ?? null,
      owner: session.owner,
      clientCapabilities: mcp.server.getClientCapabilities() ?? null,
      clientVersion: mcp.server.getClientVersion() ?? null,
    }),
  );
  mcp.registerTool('roots', {}, async (extra) => {
    const result = await extra.sendRequest({ method: 'roots/list' }, ListRootsResultSchema);
    return text(result.roots);
  });
  mcp.registerTool('sample', {}, async (extra) => {
    const result = await mcp.server.createMessage(
      { messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }], maxTokens: 5 },
      { relatedRequestId: extra.requestId },
    );
    return text(result.content);
  });
  mcp.registerTool('elicit', {}, async (extra) => {
    const result = await mcp.server.elicitInput(
      {
        message: 'ok?',
        requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } } },
      },
      { relatedRequestId: extra.requestId },
    );
    return text(ElicitResultSchema.parse(result));
  });
  mcp.registerTool(
    'log',
    { inputSchema: { levels: z.array(z.enum(['debug', 'info', 'warning', 'error'])) } },
    async ({ levels }, extra) => {
      for (const level of levels) {
        await mcp.server.sendLoggingMessage({ level, data: `at ${level}` }, extra.sessionId);
      }
      return text({ sent: levels.length });
    },
  );
  mcp.registerTool(
    'notify',
    { inputSchema: { tag: z.string(), count: z.number().int().min(1).max(50) } },
    async ({ tag, count }) => {
      // No related request: these go to the standalone GET stream (or are stored for it).
      for (let i = 1; i <= count; i++) {
        await mcp.server.notification({
          method: 'notifications/message',
          params: { level: 'info', data: `${tag}-${i}` },
        });
      }
      return text({ sent: count });
    },
  );
  return mcp;
};

/**
 * An SDK 2.x server with handle tools over `handles`: `open_state` mints a handle, `remember(key, value)`
 * and `recall(key)` take it. Build one per request (the v2 handler calls the factory per request).
 */
export function handleToolsServer(handles: StateHandles, name: string): McpServerV2 {
  const server = new McpServerV2({ name, version: '1.0.0' });
  registerMintHandleTool(server, handles, 'open_state', {});
  registerHandleTool(
    server,
    handles,
    'remember',
    { inputSchema: z.object({ key: z.string(), value: z.string() }) },
    async ({ key, value }, state) => {
      await state.set(key, value);
      return jsonResult({ ok: true });
    },
  );
  registerHandleTool(
    server,
    handles,
    'recall',
    { inputSchema: z.object({ key: z.string() }) },
    async ({ key }, state) => jsonResult({ value: (await state.get(key)) ?? null }),
  );
  return server;
}

/** An HTTP server on a free loopback port serving the handler's Node listener. */
export async function listen(
  handler: McpSessionHandler,
): Promise<{ url: string; base: string; server: HttpServer; close: () => Promise<void> }> {
  const server = createServer(handler.nodeListener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    url: `${base}/mcp`,
    base,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A tool result whose text content is `value` as JSON. */
export function jsonResult(value: unknown) {
  return { content: [{ type: 'text' as const, text: JSON.stringify(value) }] };
}

export { cleanupAfterEach } from '@mcp-session/test-utils';
export * from '@mcp-session/test-utils/mcp';
