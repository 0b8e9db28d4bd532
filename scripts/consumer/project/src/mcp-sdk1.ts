// An SDK 1.x server and a real SDK 1.x client, in a project where @modelcontextprotocol/server (SDK 2.x)
// is not installed: the main entry and the handles entry work, and typecheck, without it.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMcpSessionHandler } from '@mcp-session/mcp';
import { StateHandles } from '@mcp-session/mcp/handles';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import * as z from 'zod';
import { check } from './smoke.js';

const mcp = await createMcpSessionHandler({
  sessions: 'memory:',
  server: ({ session }) => {
    const server = new McpServer({ name: 'consumer', version: '1.0.0' });
    server.registerTool(
      'remember',
      { inputSchema: { key: z.string(), value: z.string() } },
      async ({ key, value }) => {
        await session.set(key, value);
        return { content: [{ type: 'text', text: 'ok' }] };
      },
    );
    server.registerTool('recall', { inputSchema: { key: z.string() } }, async ({ key }) => ({
      content: [{ type: 'text', text: JSON.stringify((await session.get(key)) ?? null) }],
    }));
    return server;
  },
});
const http = createServer(mcp.nodeListener).listen(0, '127.0.0.1');
await once(http, 'listening');
const { port } = http.address() as AddressInfo;
const client = new Client({ name: 'consumer-client', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
await client.callTool({ name: 'remember', arguments: { key: 'colour', value: 'teal' } });
const recalled = await client.callTool({ name: 'recall', arguments: { key: 'colour' } });
const content = recalled.content as { type: string; text: string }[];
check(content[0]?.text === '"teal"', 'mcp: the session keeps what a tool stored');

const handles = new StateHandles(mcp.manager);
const minted = await handles.mint('alice');
check((await handles.resolve(minted.handle, 'alice')).owner === 'alice', 'mcp: a handle resolves');

await client.close();
http.close();
await mcp.close();
console.log('mcp (SDK 1.x): ok');
