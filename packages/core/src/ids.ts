import { createHash, randomBytes } from 'node:crypto';
import { assertPositiveInteger } from './validation.js';

/** Default number of random bytes in a session id: 192 bits, 32 base64url characters. */
export const DEFAULT_ID_BYTES = 24;

/**
 * A new session id: `bytes` bytes from the OS CSPRNG, base64url-encoded (visible ASCII only, as MCP
 * requires). At least 16 bytes (128 bits).
 */
export function generateSessionId(bytes: number = DEFAULT_ID_BYTES): string {
  assertPositiveInteger(bytes, 'idBytes');
  if (bytes < 16) throw new RangeError('Session ids need at least 16 random bytes (128 bits)');
  return randomBytes(bytes).toString('base64url');
}

/**
 * The storage id of a session id when ids are hashed at rest: SHA-256, 64 lowercase hex characters.
 * Session ids carry at least 128 random bits, so an unsalted digest cannot be reversed by guessing.
 */
export function hashSessionId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}
