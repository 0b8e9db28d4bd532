// Typechecked once @modelcontextprotocol/server (SDK 2.x) is installed: the handle tool helpers take their
// types from the server passed in.
import { createStore, SessionManager } from '@mcp-session/core';
import { registerHandleTool, registerMintHandleTool, StateHandles } from '@mcp-session/mcp/handles';
import { McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';

const handles = new StateHandles(new SessionManager({ store: await createStore('memory:') }), {
  mintTool: 'open_state',
});
const server = new McpServer({ name: 'notes', version: '1.0.0' });
registerMintHandleTool(server, handles, 'open_state', {});
const tool = registerHandleTool(
  server,
  handles,
  'recall',
  { inputSchema: z.object({ key: z.string() }) },
  async ({ key }, state, ctx) => ({
    content: [
      { type: 'text', text: `${key}=${JSON.stringify(await state.get(key))} ${ctx.mcpReq.id}` },
    ],
  }),
);
tool.remove();
