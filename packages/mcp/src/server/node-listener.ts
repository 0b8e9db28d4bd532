import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
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

type NodeRequest = IncomingMessage & { auth?: AuthInfo; body?: unknown; originalUrl?: string };

/**
 * Adapts the web-standard handler to Node with `@hono/node-server` (what the SDK's own Node transport
 * does internally), serving `path` and `path/` alike, without redirecting.
 */
export function createNodeListener(
  path: string,
  handle: (request: Request, options: HandleRequestOptions) => Promise<Response>,
): NodeListener {
  const listener = getRequestListener(
    (request, env) => {
      const incoming = env.incoming as NodeRequest;
      const options: HandleRequestOptions = { incoming: env.incoming as IncomingMessage };
      if (incoming.auth !== undefined) options.authInfo = incoming.auth;
      // A body parser in front (express.json()) has consumed the stream: use what it parsed.
      if (request.method === 'POST' && incoming.body !== undefined && incoming.readableEnded) {
        options.parsedBody = incoming.body;
      }
      return handle(request, options);
    },
    { overrideGlobalObjects: false },
  );
  return async (req, res, next) => {
    if (!matchesPath((req as NodeRequest).originalUrl ?? req.url ?? '/', path)) {
      if (next) return next();
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    await listener(req, res);
  };
}

/** Whether a request URL's path is `path` or `path/` (query ignored). */
export function matchesPath(url: string, path: string): boolean {
  const query = url.indexOf('?');
  const pathname = query === -1 ? url : url.slice(0, query);
  return pathname === path || pathname === `${path}/`;
}
