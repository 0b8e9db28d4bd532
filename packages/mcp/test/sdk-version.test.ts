import { SessionManager } from '@mcp-session/core';
import { MemorySessionStore } from '@mcp-session/memory';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { expect, it } from 'vitest';
import {
  checkSdkCompatibility,
  createMcpSessionHandler,
  SdkCompatibilityError,
  type ServerFactory,
  SUPPORTED_SDK_RANGE,
} from '../src/index.js';
import { demoServer, listen, postHeaders, rawInitialize } from './helpers.js';

it('runs against the SDK version this project is meant to test (the alias really applies)', async () => {
  // server/sseKeepAlive.js appeared after 1.26, so its presence tells the two apart.
  const keepAlive = import('@modelcontextprotocol/sdk/server/sseKeepAlive.js');
  if (process.env.MCP_SDK_UNDER_TEST === '1.26') await expect(keepAlive).rejects.toThrow();
  else await expect(keepAlive).resolves.toBeDefined();
});

it('passes the start-up compatibility probe', async () => {
  await expect(checkSdkCompatibility()).resolves.toBeUndefined();
});

it('names the installed SDK version and the supported range when a rebuild finds the SDK changed', async () => {
  const manager = new SessionManager({ store: new MemorySessionStore({ sweepIntervalMs: 0 }) });
  const errors: Error[] = [];
  // Stands in for an SDK whose server no longer takes capabilities from a replayed initialize.
  const server: ServerFactory = (context) => {
    const built = demoServer(context) as McpServer;
    if (context.rebuilt) built.server.getClientCapabilities = () => undefined;
    return built;
  };
  const options = {
    sessions: manager,
    server,
    sweepIntervalMs: null,
    onerror: (error: Error) => errors.push(error),
  };
  const first = await createMcpSessionHandler(options);
  const second = await createMcpSessionHandler(options);
  const a = await listen(first);
  const b = await listen(second);
  try {
    const { sessionId } = await rawInitialize(a.url);
    const response = await fetch(b.url, {
      method: 'POST',
      headers: postHeaders({ 'mcp-session-id': sessionId ?? '' }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    // Not rebuildable here, so 404: a recovering client re-initializes and gets its session back.
    expect(response.status).toBe(404);
    const error = errors.find((e) => e instanceof SdkCompatibilityError);
    expect(error?.message).toContain(SUPPORTED_SDK_RANGE);
    expect(error?.message).toMatch(/capabilities/);
    expect(error?.message).toMatch(/\(\d+\.\d+\.\d+\)/);
  } finally {
    await a.close();
    await b.close();
    await first.close();
    await second.close();
    await manager.close();
  }
});
