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
  return randomSlice(bytes).toString('base64url');
}

/** Random bytes drawn from the CSPRNG at once, handed out in slices. */
const RANDOM_POOL_BYTES = 4_096;
let randomPool = Buffer.alloc(0);
let randomPoolOffset = 0;

/**
 * `bytes` bytes from the OS CSPRNG, each handed out once. One `randomBytes` call per id was over a third
 * of a memory-store create (issue 17); drawing 4 KiB at a time and slicing it is what Node's own
 * `randomUUID` does. Larger requests go to `randomBytes` directly.
 */
function randomSlice(bytes: number): Buffer {
  if (bytes > RANDOM_POOL_BYTES) return randomBytes(bytes);
  if (randomPoolOffset + bytes > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES);
    randomPoolOffset = 0;
  }
  const slice = randomPool.subarray(randomPoolOffset, randomPoolOffset + bytes);
  randomPoolOffset += bytes;
  return slice;
}

/**
 * The storage id of a session id when ids are hashed at rest: SHA-256, 64 lowercase hex characters.
 * Session ids carry at least 128 random bits, so an unsalted digest cannot be reversed by guessing.
 */
export function hashSessionId(id: string): string {
  return hash('sha256', id, 'hex');
}

/**
 * `hashSessionId` with the digests of recently used ids kept in memory: a server hashes the same few
 * ids on every request, and the digest was a sixth of a memory-store read (issue 17). At most
 * `maxEntries` digests are held, in two generations of half that each: when the young one is full it
 * becomes the old one and the previous old one is dropped, so an id used in either generation stays
 * (and moves to the young one) and every call costs at most two lookups. (A single map that deletes
 * its oldest key is no cheaper to write and far slower: finding the oldest key walks the holes that
 * deleted keys leave.) It lives in this process only, like the ids themselves; what reaches the store
 * is unchanged.
 */
export class SessionIdDigests {
  #young = new Map<string, string>();
  #old = new Map<string, string>();
  readonly #generationSize: number;

  constructor(maxEntries: number) {
    this.#generationSize = Math.max(1, Math.floor(maxEntries / 2));
  }

  /** How many digests are held now. */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  /** The SHA-256 hex digest of `id`, from memory when it is there. */
  digest(id: string): string {
    const young = this.#young.get(id);
    if (young !== undefined) return young;
    const digest = this.#old.get(id) ?? hashSessionId(id);
    if (this.#young.size >= this.#generationSize) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(id, digest);
    return digest;
  }
}
