import type { IncomingMessage } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';

/** What an owner resolver gets: the request, and the auth info the app's auth layer attached. */
export interface OwnerRequest {
  /** The request (web-standard; headers are lower-cased). */
  request: Request;
  /** `req.auth` on Node (set by the SDK's `requireBearerAuth` or your own middleware), or what was passed in. */
  authInfo: AuthInfo | undefined;
  /** The Node request, when the handler was called through its Node or Express entry point. */
  incoming: IncomingMessage | undefined;
}

/**
 * Maps a request to the principal its session is bound to, or null for "unbound". A session bound to an
 * owner answers 404 to any other owner, and a preferred id is only honoured for the same owner. It runs
 * after your authentication: it maps, it does not authenticate.
 */
export type OwnerResolver = (request: OwnerRequest) => string | null | Promise<string | null>;

/**
 * The default resolver: the authenticated `clientId` of `authInfo` when there is one, else null. With
 * OAuth, `clientId` is the client application, not the end user; bind to the user (e.g. a `sub` your
 * token verifier puts in `authInfo.extra`) with your own resolver when several users share a client.
 */
export const defaultOwner: OwnerResolver = ({ authInfo }) =>
  typeof authInfo?.clientId === 'string' && authInfo.clientId !== '' ? authInfo.clientId : null;
