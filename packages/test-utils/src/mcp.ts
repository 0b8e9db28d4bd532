/**
 * MCP over raw HTTP, without the SDK client: for tests that need full control of each request (headers,
 * ids, streams). Shared by the glue's tests and the reference server's end-to-end tests.
 */
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';

/** The JSON of the first text content of a tool result. */
export function textOf(result: unknown): unknown {
  const content = (result as { content?: { type: string; text?: string }[] }).content;
  const first = content?.[0];
  if (first?.type !== 'text' || first.text === undefined) throw new Error('no text content');
  return JSON.parse(first.text);
}

/** Headers of a well-behaved POST. */
export function postHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json',
    ...extra,
  };
}

/** The params a test client initializes with. */
export const INITIALIZE_PARAMS = {
  protocolVersion: LATEST_PROTOCOL_VERSION,
  capabilities: { roots: { listChanged: true }, elicitation: {} },
  clientInfo: { name: 'raw-test-client', version: '1.2.3' },
};

/** Sends a raw initialize; returns the response and its session id header. */
export async function rawInitialize(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ response: Response; sessionId: string | null; body: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: postHeaders(headers),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: INITIALIZE_PARAMS,
    }),
  });
  const body = await response.text();
  return { response, sessionId: response.headers.get('mcp-session-id'), body };
}

/** Sends `notifications/initialized` (raw). */
export async function rawInitialized(
  url: string,
  sessionId: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: postHeaders({ 'mcp-session-id': sessionId, ...headers }),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
}

/** Calls a tool over raw HTTP and returns the parsed JSON of its first text content. */
export async function rawCallTool(
  url: string,
  sessionId: string,
  name: string,
  args: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; result: unknown; events: SseEvent[] }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: postHeaders({
      'mcp-session-id': sessionId,
      'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
      ...headers,
    }),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: `call-${name}-${Math.random()}`,
      method: 'tools/call',
      params: { name, arguments: args },
    }),
  });
  const body = await response.text();
  if (response.status !== 200) return { status: response.status, result: body, events: [] };
  const events = parseSse(body);
  const reply = events
    .map((event) => (event.data === '' ? null : JSON.parse(event.data)))
    .find((message) => message && ('result' in message || 'error' in message));
  const content = reply?.result?.content?.[0]?.text;
  return { status: 200, result: content === undefined ? reply : JSON.parse(content), events };
}

/** One server-sent event. */
export interface SseEvent {
  id: string | undefined;
  data: string;
}

/** Parses a complete SSE body. */
export function parseSse(body: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of body.split('\n\n')) {
    if (block.trim() === '') continue;
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('id:')) id = line.slice(3).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (id !== undefined || data.length > 0) events.push({ id, data: data.join('\n') });
  }
  return events;
}

/**
 * An open SSE stream read incrementally: `next(n)` resolves with the next n events that carry data.
 * `close()` aborts it (the client going away).
 */
export async function openSse(
  url: string,
  headers: Record<string, string>,
): Promise<{
  status: number;
  response: Response;
  next: (count: number) => Promise<SseEvent[]>;
  close: () => void;
}> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const queue: SseEvent[] = [];
  const next = async (count: number) => {
    while (queue.length < count) {
      if (!reader) throw new Error('no body');
      const { done, value } = await reader.read();
      if (done) throw new Error(`stream ended after ${queue.length} of ${count} events`);
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end + 2);
        buffer = buffer.slice(end + 2);
        for (const event of parseSse(block)) if (event.data !== '') queue.push(event);
        end = buffer.indexOf('\n\n');
      }
    }
    return queue.splice(0, count);
  };
  return {
    status: response.status,
    response,
    next,
    close: () => controller.abort(),
  };
}
