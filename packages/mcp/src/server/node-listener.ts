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

/** Most of a refused or oversize body read (and dropped) before the connection is cut, as a multiple of the limit. */
export const DRAIN_FACTOR = 16;
/** A refused request's body is drained only while it keeps arriving: this long without data cuts it. */
const DRAIN_IDLE_MS = 1_000;
/** …and for this long at most. */
const DRAIN_DEADLINE_MS = 10_000;

/**
 * Adapts the web-standard handler to Node with `@hono/node-server` (what the SDK's own Node transport
 * does internally), serving `path` and `path/` alike, without redirecting. `screen` runs first: a request
 * it refuses is answered before its body is read (see `answerUnread`).
 */
export function createNodeListener(
  path: string,
  screen: NodeScreen,
  handle: (request: Request, options: HandleRequestOptions) => Promise<Response>,
  maxBodyBytes: number,
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
    if (refused) return answerUnread(req, res, refused, DRAIN_FACTOR * maxBodyBytes);
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

/**
 * Answers a request before reading its body, then closes the connection without letting the client hold
 * it. The answer is written at once. A body the client is still sending is drained (read and dropped) so it
 * can finish and read the answer instead of a broken pipe — but only while data keeps arriving (a second
 * without any cuts it), for ten seconds at most, and never past `maxDrainBytes`: a declared length over it
 * is cut at once. A client that announces a body and sends nothing is cut after the idle second.
 */
export async function answerUnread(
  req: IncomingMessage,
  res: ServerResponse,
  response: Response,
  maxDrainBytes: number,
): Promise<void> {
  const text = await response.text();
  if (res.destroyed || res.headersSent) return;
  res.writeHead(response.status, {
    ...Object.fromEntries(response.headers),
    connection: 'close',
    'content-length': String(Buffer.byteLength(text)),
  });
  const declared = Number(req.headers['content-length'] ?? 0);
  const pending =
    !req.readableEnded && (declared > 0 || req.headers['transfer-encoding'] !== undefined);
  if (!pending) {
    res.end(text);
    return;
  }
  if (declared > maxDrainBytes) {
    res.end(text, () => req.socket.destroy());
    return;
  }
  res.write(text);
  await new Promise<void>((resolve) => {
    let drained = 0;
    let idle: NodeJS.Timeout;
    const done = (cut: boolean) => {
      clearTimeout(idle);
      clearTimeout(deadline);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (cut) {
        req.socket.destroy();
      } else {
        res.end();
      }
      resolve();
    };
    const onData = (chunk: Buffer) => {
      drained += chunk.byteLength;
      if (drained > maxDrainBytes) return done(true);
      clearTimeout(idle);
      idle = setTimeout(() => done(true), DRAIN_IDLE_MS);
    };
    const onEnd = () => done(false);
    const onError = () => done(true);
    idle = setTimeout(() => done(true), DRAIN_IDLE_MS);
    const deadline = setTimeout(() => done(true), DRAIN_DEADLINE_MS);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
