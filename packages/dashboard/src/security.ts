import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Headers on every response. The page loads only its own files (no third-party request is possible),
 * cannot be framed, and sends no Referer, so the URL never leaks anywhere.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Compares a presented token with the expected one in time that does not depend on where they differ. */
export function tokenMatches(presented: string | null | undefined, expected: string): boolean {
  if (typeof presented !== 'string') return false;
  // Hashing first gives equal lengths, which timingSafeEqual needs, without leaking the token's length.
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * The cookie that carries the token. Its name holds a short digest of the token, so two dashboards on
 * one host (cookies ignore ports) keep their own cookie instead of overwriting each other's.
 */
export function cookieName(token: string): string {
  return `mcp_session_dashboard_${digest(token).toString('hex').slice(0, 12)}`;
}

/** The value of one cookie of a `Cookie` header, or null. */
export function readCookie(header: string | null, name: string): string | null {
  if (header === null) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    // The handler writes the token URI-encoded, so any token (`;`, spaces) survives the cookie syntax.
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return null;
    }
  }
  return null;
}

/** The token as `Authorization: Bearer <token>`, or null. */
export function bearerToken(header: string | null): string | null {
  const match = header === null ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}
