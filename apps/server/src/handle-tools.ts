import {
  registerHandleTool,
  registerMintHandleTool,
  type StateHandles,
} from '@mcp-session/mcp/handles';
import { McpServer, type McpServerFactory } from '@modelcontextprotocol/server';
import * as z from 'zod';
import { json, stateTools, TOOL_ARGS } from './tools.js';

/** Name of the tool that mints handles; tool errors for a dead handle tell the model to call it. */
export const MINT_TOOL = 'open_state';

/**
 * The reference server's tools for 2026-07-28 clients (SDK 2.x, no protocol session): `open_state` mints a
 * state handle bound to the caller; `remember`, `recall`, `history`, `state_info` and `close_state` take it
 * as their `handle` argument. Handles live in the same store as the 2025 sessions, so they survive restarts
 * and work on every instance. One McpServer per request (the handler calls the factory per request).
 */
export function handleServer(handles: StateHandles, instanceName: string): McpServerFactory {
  return () => {
    const server = new McpServer(
      { name: 'mcp-session-reference-server', version: '1.0.0' },
      {
        instructions: `Keeps state behind handles: call ${MINT_TOOL} once, then pass its handle to remember(key, value), recall(key), history, state_info and close_state.`,
      },
    );

    registerMintHandleTool(server, handles, MINT_TOOL, {
      description:
        'Opens server-side state and returns { handle, expiresAt }. Pass the handle to the other tools; it expires when unused for a while (then open a new one).',
    });

    registerHandleTool(
      server,
      handles,
      'remember',
      {
        description: 'Stores a value under a key in the handle’s state.',
        inputSchema: z.object(TOOL_ARGS.remember),
      },
      (args, state) => stateTools.remember(state, args),
    );

    registerHandleTool(
      server,
      handles,
      'recall',
      {
        description:
          'Returns the value stored under a key in the handle’s state (null when unset).',
        inputSchema: z.object(TOOL_ARGS.recall),
      },
      (args, state) => stateTools.recall(state, args),
    );

    registerHandleTool(
      server,
      handles,
      'history',
      {
        description: 'Shows the handle’s most recent tool calls, oldest first.',
        inputSchema: z.object(TOOL_ARGS.history),
      },
      (args, state) => stateTools.history(state, args),
    );

    registerHandleTool(
      server,
      handles,
      'state_info',
      {
        description: 'Shows the handle’s owner, age, expiry and counts, and the serving instance.',
      },
      async (_args, state) => {
        const { id: _sessionId, ...statistics } = await state.statistics();
        return json({ owner: state.owner, instance: instanceName, ...statistics });
      },
    );

    registerHandleTool(
      server,
      handles,
      'close_state',
      { description: 'Closes the handle; later calls with it fail.' },
      async (_args, state) => json({ closed: await state.close() }),
    );

    return server;
  };
}
