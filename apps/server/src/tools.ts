import type { JsonValue } from '@mcp-session/core';
import type { ServerFactory } from '@mcp-session/mcp';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import * as z from 'zod';

const json = (value: unknown) => ({
  content: [{ type: 'text' as const, text: JSON.stringify(value) }],
});

/**
 * The reference server's tools, one McpServer per session. Every tool reads or writes the session
 * through `session` (a `SessionContext`), so what it stores survives restarts and is visible on every
 * instance. Each call is also recorded in the session's history.
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
    const record = (tool: string, args: Record<string, JsonValue>) =>
      session.addMessage({ role: 'user', content: { tool, arguments: args } });

    server.registerTool(
      'remember',
      {
        description: 'Stores a value under a key in this session’s context.',
        inputSchema: { key: z.string().min(1).max(256), value: z.string().max(64 * 1024) },
      },
      async ({ key, value }) => {
        await session.set(key, value);
        await record('remember', { key, value });
        return json({ remembered: key });
      },
    );

    server.registerTool(
      'recall',
      {
        description:
          'Returns the value stored under a key in this session (null when there is none).',
        inputSchema: { key: z.string().min(1).max(256) },
      },
      async ({ key }) => {
        await record('recall', { key });
        return json({ key, value: (await session.get(key)) ?? null });
      },
    );

    server.registerTool(
      'history',
      {
        description: 'Shows this session’s most recent tool calls, oldest first.',
        inputSchema: { limit: z.number().int().min(1).max(100).optional() },
      },
      async ({ limit }) => {
        const entries = await session.history({ limit: limit ?? 20 });
        return json(
          entries.map(({ seq, at, data }) => ({ seq, at: new Date(at).toISOString(), ...data })),
        );
      },
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
