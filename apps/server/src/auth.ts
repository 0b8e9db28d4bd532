import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';

/**
 * Example bearer-token authentication, not a product: a static map of tokens to owners. A known token
 * sets `req.auth` (the SDK's convention), whose `clientId` the MCP handler binds sessions to. Returns
 * false after answering 401 when authentication is on and the token is missing or unknown.
 */
export function authenticate(
  req: IncomingMessage & { auth?: AuthInfo },
  res: ServerResponse,
  tokens: ReadonlyMap<string, string>,
): boolean {
  if (tokens.size === 0) return true;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  const owner = match?.[1] === undefined ? undefined : tokens.get(match[1]);
  if (owner === undefined || match?.[1] === undefined) {
    res
      .writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': 'Bearer realm="mcp"',
      })
      .end(
        JSON.stringify({
          jsonrpc: '2.0',
          error: { code: -32001, message: 'Unauthorized: send Authorization: Bearer <token>' },
          id: null,
        }),
      );
    return false;
  }
  req.auth = { token: match[1], clientId: owner, scopes: [] };
  return true;
}
