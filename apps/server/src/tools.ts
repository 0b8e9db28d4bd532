import type { JsonValue } from '@mcp-session/core';
import type { ServerFactory, SessionContext } from '@mcp-session/mcp';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
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
        capabilities: { logging: {}, resources: { subscribe: true } },
        instructions:
          'Remembers values per session: remember(key, value), recall(key), history, session_info; ' +
          'notes (add_note, the session://notes resource); asks the client through summarize, ' +
          'confirm and list_roots; count_slowly reports progress and stops when cancelled.',
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

    // Subscriptions live in the session, so whichever instance serves add_note knows about them.
    server.server.setRequestHandler(SubscribeRequestSchema, async ({ params }) => {
      const subscribed = await subscriptionsOf(session);
      if (!subscribed.includes(params.uri)) {
        await session.set(SUBSCRIPTIONS_KEY, [...subscribed, params.uri]);
      }
      return {};
    });
    server.server.setRequestHandler(UnsubscribeRequestSchema, async ({ params }) => {
      const subscribed = await subscriptionsOf(session);
      await session.set(
        SUBSCRIPTIONS_KEY,
        subscribed.filter((uri) => uri !== params.uri),
      );
      return {};
    });

    server.registerResource(
      'notes',
      NOTES_URI,
      {
        description: 'The notes added to this session with add_note.',
        mimeType: 'application/json',
      },
      async () => ({
        contents: [
          {
            uri: NOTES_URI,
            mimeType: 'application/json',
            text: JSON.stringify(await notesOf(session)),
          },
        ],
      }),
    );

    server.registerTool(
      'add_note',
      {
        description: `Adds a note to the ${NOTES_URI} resource; subscribers get notifications/resources/updated.`,
        inputSchema: { text: z.string().min(1).max(4096) },
      },
      async ({ text }) => {
        const notes = [...(await notesOf(session)), text];
        await session.set(NOTES_KEY, notes);
        if ((await subscriptionsOf(session)).includes(NOTES_URI)) {
          await server.server.sendResourceUpdated({ uri: NOTES_URI });
        }
        return json({ notes: notes.length });
      },
    );

    server.registerTool(
      'refresh_lists',
      {
        description:
          'Tells the client to re-read the tool list (notifications/tools/list_changed on the standalone stream), e.g. after a deployment.',
      },
      async () => {
        server.sendToolListChanged();
        return json({ sent: 'notifications/tools/list_changed' });
      },
    );

    server.registerTool(
      'summarize',
      {
        description:
          'Asks the client’s model (sampling/createMessage) to summarize a text, and returns its answer.',
        inputSchema: {
          text: z
            .string()
            .min(1)
            .max(16 * 1024),
          maxTokens: z.number().int().min(1).max(4096).optional(),
        },
      },
      async ({ text, maxTokens }, extra) => {
        const result = await server.server.createMessage(
          {
            messages: [{ role: 'user', content: { type: 'text', text: `Summarize:\n${text}` } }],
            maxTokens: maxTokens ?? 200,
          },
          { relatedRequestId: extra.requestId },
        );
        return json({
          summary: result.content.type === 'text' ? result.content.text : null,
          model: result.model,
        });
      },
    );

    server.registerTool(
      'confirm',
      {
        description:
          'Asks the user to confirm something (elicitation, form mode) and returns their answer.',
        inputSchema: { question: z.string().min(1).max(1024) },
      },
      async ({ question }, extra) => {
        const result = await server.server.elicitInput(
          {
            mode: 'form',
            message: question,
            requestedSchema: {
              type: 'object',
              properties: { confirmed: { type: 'boolean', title: 'Confirm' } },
              required: ['confirmed'],
            },
          },
          { relatedRequestId: extra.requestId },
        );
        return json({ action: result.action, content: result.content ?? null });
      },
    );

    server.registerTool(
      'list_roots',
      { description: 'Asks the client for its roots (roots/list) and returns them.' },
      async (extra) => {
        const { roots } = await server.server.listRoots(undefined, {
          relatedRequestId: extra.requestId,
        });
        return json({ roots });
      },
    );

    server.registerTool(
      'count_slowly',
      {
        description:
          'Counts to `steps`, one step every `delayMs`, with progress notifications; stops when cancelled. Its outcome is kept under the context key `count_slowly`.',
        inputSchema: {
          steps: z.number().int().min(1).max(1000),
          delayMs: z.number().int().min(0).max(60_000),
        },
      },
      async ({ steps, delayMs }, extra) => {
        const progressToken = extra._meta?.progressToken;
        for (let step = 1; step <= steps; step++) {
          if (!(await pause(delayMs, extra.signal))) {
            await session.set('count_slowly', {
              outcome: 'cancelled',
              step,
              instance: instanceName,
            });
            return json({ cancelled: step });
          }
          if (progressToken !== undefined) {
            await extra.sendNotification({
              method: 'notifications/progress',
              params: { progressToken, progress: step, total: steps },
            });
          }
        }
        await session.set('count_slowly', {
          outcome: 'finished',
          step: steps,
          instance: instanceName,
        });
        return json({ counted: steps });
      },
    );

    return server;
  };
}

const NOTES_URI = 'session://notes';
const NOTES_KEY = 'notes';
const SUBSCRIPTIONS_KEY = 'subscriptions';

async function notesOf(session: SessionContext): Promise<string[]> {
  const notes = await session.get(NOTES_KEY);
  return Array.isArray(notes)
    ? notes.filter((note): note is string => typeof note === 'string')
    : [];
}

async function subscriptionsOf(session: SessionContext): Promise<string[]> {
  const uris = await session.get(SUBSCRIPTIONS_KEY);
  return Array.isArray(uris) ? uris.filter((uri): uri is string => typeof uri === 'string') : [];
}

/** Waits `ms`; false when `signal` aborted first (or already had). */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
