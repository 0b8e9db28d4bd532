import type { JsonValue } from '@mcp-session/core';
import type { ServerFactory, SessionContext } from '@mcp-session/mcp';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import * as z from 'zod';

export const json = (value: unknown) => ({
  content: [{ type: 'text' as const, text: JSON.stringify(value) }],
});

/** Arguments of the tools both eras offer (Zod raw shapes; the 2026 tools wrap them in `z.object`). */
export const TOOL_ARGS = {
  remember: { key: z.string().min(1).max(256), value: z.string().max(64 * 1024) },
  recall: { key: z.string().min(1).max(256) },
  history: { limit: z.number().int().min(1).max(100).optional() },
};

/**
 * What `remember`, `recall` and `history` do, on any state: an MCP session's (`SessionContext`) or a state
 * handle's (`HandleState`, which extends it). Every call is recorded in the state's history.
 */
export const stateTools = {
  async remember(state: SessionContext, { key, value }: { key: string; value: string }) {
    await state.set(key, value);
    await record(state, 'remember', { key, value });
    return json({ remembered: key });
  },
  async recall(state: SessionContext, { key }: { key: string }) {
    await record(state, 'recall', { key });
    return json({ key, value: (await state.get(key)) ?? null });
  },
  async history(state: SessionContext, { limit }: { limit?: number | undefined }) {
    const entries = await state.history({ limit: limit ?? 20 });
    return json(
      entries.map(({ seq, at, data }) => ({ seq, at: new Date(at).toISOString(), ...data })),
    );
  },
};

function record(state: SessionContext, tool: string, args: Record<string, JsonValue>) {
  return state.addMessage({ role: 'user', content: { tool, arguments: args } });
}

/**
 * The reference server's tools for 2025-era clients, one McpServer per session. Every tool reads or writes
 * the session through `session` (a `SessionContext`), so what it stores survives restarts and is visible on
 * every instance.
 */
export function referenceServer(instanceName: string): ServerFactory {
  return ({ sessionId, session }) => {
    const server = new McpServer(
      { name: 'mcp-session-reference-server', version: '1.0.0' },
      {
        capabilities: { logging: {} },
        instructions:
          'Remembers values per session: remember(key, value), recall(key), history, session_info.',
      },
    );

    server.registerTool(
      'remember',
      {
        description: 'Stores a value under a key in this session’s context.',
        inputSchema: TOOL_ARGS.remember,
      },
      (args) => stateTools.remember(session, args),
    );

    server.registerTool(
      'recall',
      {
        description:
          'Returns the value stored under a key in this session (null when there is none).',
        inputSchema: TOOL_ARGS.recall,
      },
      (args) => stateTools.recall(session, args),
    );

    server.registerTool(
      'history',
      {
        description: 'Shows this session’s most recent tool calls, oldest first.',
        inputSchema: TOOL_ARGS.history,
      },
      (args) => stateTools.history(session, args),
    );

    server.registerTool(
      'session_info',
      { description: 'Shows this session’s id, owner, state, age, expiry and counts.' },
      async () => {
        const statistics = await session.statistics();
        return json({
          sessionId,
          owner: session.owner,
          instance: instanceName,
          ...statistics,
        });
      },
    );

    server.registerTool(
      'notify',
      {
        description:
          'Sends `count` log notifications on the session’s standalone stream (GET), where they are kept for resumption with Last-Event-ID.',
        inputSchema: { message: z.string().max(1024), count: z.number().int().min(1).max(100) },
      },
      async ({ message, count }) => {
        for (let i = 1; i <= count; i++) {
          await server.server.sendLoggingMessage(
            { level: 'info', logger: 'notify', data: `${message} ${i}/${count}` },
            sessionId,
          );
        }
        return json({ sent: count });
      },
    );

    return server;
  };
}
