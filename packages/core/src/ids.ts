import { hash, randomBytes } from 'node:crypto';
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
  return hash('sha256', id, 'hex');
}

/**
 * `hashSessionId` with the digests of the most recently first-seen ids kept in a bounded map: a server
 * hashes the same few ids on every request, and the digest was a sixth of a memory-store read (issue
 * 17). The map holds at most `maxEntries`; when full, the oldest entry makes room (first in, first out,
 * so a hit costs one lookup and nothing else). It lives in this process only, like the ids themselves;
 * what reaches the store is unchanged.
 */
export class SessionIdDigests {
  readonly #digests = new Map<string, string>();

  constructor(private readonly maxEntries: number) {}

  /** How many digests the map holds now. */
  get size(): number {
    return this.#digests.size;
  }

  /** The SHA-256 hex digest of `id`, from the map when it is there. */
  digest(id: string): string {
    let digest = this.#digests.get(id);
    if (digest === undefined) {
      digest = hashSessionId(id);
      if (this.#digests.size >= this.maxEntries) {
        this.#digests.delete(this.#digests.keys().next().value as string);
      }
      this.#digests.set(id, digest);
    }
    return digest;
  }
}
