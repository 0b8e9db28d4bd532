import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { JsonValue } from '@mcp-session/core';

/**
 * Sealed event entries: what the event store writes to a session's log in place of the event. The store
 * only ever sees the SHA-256 storage id of the session, and the key comes from the raw id, so a dump
 * without the session id reveals nothing of the events (tool replies that echo the id, a handle or a
 * secret included) and a writer to the store cannot forge or alter one.
 *
 * Format 1: `{ v: 1, c: base64url(iv ‖ ciphertext ‖ tag) }`, AES-256-GCM with a 96-bit random IV and a
 * 128-bit tag; the key is HKDF-SHA256 over the session id's UTF-8 bytes; the additional data binds the
 * format version and the session's tag, so an entry opens only as an entry of this format in its own
 * session's log.
 */

/** The `v` of every entry this version writes, and the only one it opens. */
const FORMAT_VERSION = 1;
/** Names this use of HKDF, so the same session id never yields the same key for another purpose. */
const HKDF_SALT = 'mcp-session/event-store/sealed-entry';
const HKDF_INFO = 'mcp-session event seal v1';
const KEY_BYTES = 32;
/** GCM's native 96 bits. Random IVs stay safe for 2^32 entries per key, and a key serves one session. */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const CIPHER = 'aes-256-gcm';
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** `{"v":1,"c":""}`: the entry's JSON around the encoded bytes. */
const ENTRY_JSON_BYTES = JSON.stringify({ v: FORMAT_VERSION, c: '' }).length;

/** One stored entry of format 1 (a type, not an interface, so it is a `JsonValue`). */
export type SealedEntry = { v: typeof FORMAT_VERSION; c: string };

/** What opening a stored entry gave: the plaintext, or why there is none. */
export type OpenedEntry =
  | { opened: true; plaintext: Buffer }
  /**
   * `unsealed`: an entry in clear as versions before sealing wrote them (`{ s, m }`); `failed`: anything
   * else that does not open — altered, copied from another session's log, truncated, another format.
   */
  | { opened: false; reason: 'unsealed' | 'failed' };

/**
 * Bytes of the JSON of the sealed entry of a plaintext of `plaintextBytes`: ≈ 4/3 of them (base64url)
 * plus 52. What `maxEventBytes` is compared with, before anything is encrypted.
 */
export function sealedEntryBytes(plaintextBytes: number): number {
  return ENTRY_JSON_BYTES + Math.ceil(((IV_BYTES + plaintextBytes + TAG_BYTES) * 4) / 3);
}

/** Seals and opens the entries of one session's log. Derives its key once, when created. */
export class EventSeal {
  readonly #key: Buffer;
  readonly #additionalData: Buffer;

  /**
   * @param sessionId the raw MCP session id: the key's only secret input.
   * @param sessionTag the session's event-id tag, bound into every entry.
   */
  constructor(sessionId: string, sessionTag: string) {
    this.#key = Buffer.from(hkdfSync('sha256', sessionId, HKDF_SALT, HKDF_INFO, KEY_BYTES));
    this.#additionalData = Buffer.from(
      `mcp-session/event-entry\0v${FORMAT_VERSION}\0${sessionTag}`,
      'utf8',
    );
  }

  /** The entry to store for `plaintext`; a fresh IV each call. */
  seal(plaintext: Buffer): SealedEntry {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.#additionalData);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const sealed = Buffer.concat([iv, ciphertext, cipher.getAuthTag()]);
    return { v: FORMAT_VERSION, c: sealed.toString('base64url') };
  }

  /** Opens a stored entry; its plaintext only when the tag proves it was sealed for this session. */
  open(data: JsonValue): OpenedEntry {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      return { opened: false, reason: 'failed' };
    }
    if (!('v' in data) && 's' in data && 'm' in data) return { opened: false, reason: 'unsealed' };
    const { v, c } = data;
    if (v !== FORMAT_VERSION || typeof c !== 'string' || !BASE64URL.test(c)) {
      return { opened: false, reason: 'failed' };
    }
    const sealed = Buffer.from(c, 'base64url');
    if (sealed.length < IV_BYTES + TAG_BYTES) return { opened: false, reason: 'failed' };
    const decipher = createDecipheriv(CIPHER, this.#key, sealed.subarray(0, IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(this.#additionalData);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const decrypted = decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES));
    try {
      // Only `final` checks the tag: nothing decrypted is used before it passes.
      return { opened: true, plaintext: Buffer.concat([decrypted, decipher.final()]) };
    } catch {
      return { opened: false, reason: 'failed' };
    }
  }
}
