import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { notAnEndpointResponse } from '../protocol.js';
import type { HandleRequestOptions } from './request.js';

/**
 * A `node:http` listener. Without `next` it answers requests outside the path with 404; with `next`
 * (Express) it passes them on.
 */
export type NodeListener = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (error?: unknown) => void,
) => Promise<void>;

/**
 * The answer to a Node request refused on its headers alone (Host, Origin, declared length), before a
 * byte of its body is read — or null to serve it.
 */
export type NodeScreen = (req: IncomingMessage) => Response | null;

type NodeRequest = IncomingMessage & { auth?: AuthInfo; body?: unknown; originalUrl?: string };

/**
 * Adapts the web-standard handler to Node with `@hono/node-server` (what the SDK's own Node transport
 * does internally), serving `path` and `path/` alike, without redirecting. `screen` runs first: a request
 * it refuses is answered without reading its body, and its connection closed.
 */
export function createNodeListener(
  path: string,
  screen: NodeScreen,
  handle: (request: Request, options: HandleRequestOptions) => Promise<Response>,
): NodeListener {
  const listener = getRequestListener(
    (request, env) => {
      const incoming = env.incoming as NodeRequest;
      const options: HandleRequestOptions = { incoming: env.incoming as IncomingMessage };
      if (incoming.auth !== undefined) options.authInfo = incoming.auth;
      // A body parser in front (express.json()) has consumed the stream: use what it parsed.
      if (request.method === 'POST' && isBodyParsed(incoming)) {
        options.parsedBody = incoming.body;
      }
      return handle(request, options);
    },
    { overrideGlobalObjects: false },
  );
  return async (req, res, next) => {
    if (!matchesPath((req as NodeRequest).originalUrl ?? req.url ?? '/', path)) {
      if (next) return next();
      return writeResponse(res, notAnEndpointResponse());
    }
    const refused = screen(req);
    if (refused) return writeResponse(res, refused);
    await listener(req, res);
  };
}

/** Whether a body parser in front (`express.json()`) has read the request and left its result. */
export function isBodyParsed(req: IncomingMessage): boolean {
  return (req as NodeRequest).body !== undefined && req.readableEnded;
}

/** Whether a request URL's path is `path` or `path/` (query ignored). */
export function matchesPath(url: string, path: string): boolean {
  const query = url.indexOf('?');
  const pathname = query === -1 ? url : url.slice(0, query);
  return pathname === path || pathname === `${path}/`;
}

/**
 * Writes a small, fully buffered response (an error answer) to Node. With `connection: close` Node ends the
 * connection once it is written, whatever of the request body is still unread.
 */
export async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const text = await response.text();
  if (res.destroyed || res.headersSent) return;
  res
    .writeHead(response.status, {
      ...Object.fromEntries(response.headers),
      'content-length': String(Buffer.byteLength(text)),
    })
    .end(text);
}
