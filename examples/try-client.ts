/**
 * `pnpm try`: a real MCP client (SDK 1.x, protocol 2025-11-25) talks to the reference server that
 * `pnpm start` runs: it opens a session, stores a value with one tool, reads it back with another, and
 * prints what the server said. Run it twice: each run is a new session; restart the server between two
 * tool calls of one session and the session carries on (the sessions live in the store).
 *
 * MCP_URL (default http://127.0.0.1:$PORT/mcp, PORT default 3000) points it elsewhere; MCP_TOKEN sends a
 * bearer token when the server was started with MCP_TOKENS.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = new URL(process.env.MCP_URL ?? `http://127.0.0.1:${process.env.PORT ?? 3000}/mcp`);
const token = process.env.MCP_TOKEN;
const transport = new StreamableHTTPClientTransport(url, {
  requestInit: token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: 'mcp-session-try', version: '1.0.0' });

/** A tool's text content. */
async function call(name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  const content = result.content as { type: string; text?: string }[];
  const text = content.map((part) => part.text ?? `[${part.type}]`).join('\n');
  if (result.isError) throw new Error(`${name} failed: ${text}`);
  return text;
}

try {
  await client.connect(transport);
} catch (error) {
  console.error(
    `Cannot reach an MCP server at ${url.href} (${(error as Error).message}). Start one with "pnpm start" in another terminal (PORT changes its port).`,
  );
  process.exit(1);
}
console.log(`connected to ${url.href}, session ${transport.sessionId}`);
console.log(`tools: ${(await client.listTools()).tools.map((tool) => tool.name).join(', ')}`);
const colour = ['teal', 'amber', 'violet'][Math.floor(Math.random() * 3)] as string;
console.log(
  `remember colour=${colour} → ${await call('remember', { key: 'colour', value: colour })}`,
);
console.log(`recall colour → ${await call('recall', { key: 'colour' })}`);
console.log(`session_info → ${await call('session_info')}`);
await client.close();
