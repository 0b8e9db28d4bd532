import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { DecryptionError, KeyringError } from './errors.js';
import type { JsonValue } from './types.js';

/**
 * At-rest encryption of context values and history entries with server-held keys.
 *
 * Stored form (format 1): the JSON string `mcpenc:1:<keyId>:<base64url(iv ‖ ciphertext ‖ tag)>`, where the
 * plaintext is the value's UTF-8 JSON. AES-256-GCM, a random 96-bit IV per value, a 128-bit tag. The AES key
 * is never a keyring key itself: HKDF-SHA256 derives one per keyring key, purpose (`context` or `log`) and
 * storage id, so a key serves one session's values of one kind (random IVs stay far below GCM's 2^32
 * messages per key) and two purposes never share a key. The additional data binds the format, the key id,
 * the purpose, the storage id and the field (the context key, or the log name): a ciphertext copied into
 * another session, another context key or another log fails to decrypt.
 */

/** What every stored value of format 1 starts with. */
export const ENCRYPTED_VALUE_PREFIX = 'mcpenc:1:';
const FORMAT_VERSION = 1;
const KEY_BYTES = 32;
/** GCM's native 96 bits, random: safe because each derived key encrypts one session's values only. */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const CIPHER = 'aes-256-gcm';
const HKDF_SALT = 'mcp-session/at-rest';
/**
 * At most 32 characters: a 32-byte key spelt in base64 (43–44) or hex (64) can never pass for an id, so an
 * id and a key swapped by mistake in a keys file are never echoed by an error naming the id.
 */
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Standard or URL-safe base64, padding optional: how a keys file may spell a key. */
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** What a stored value is bound to: its session (storage id), its kind and its field. */
export interface EncryptionBinding {
  /** The record's storage id (what the store sees as `id`). */
  storageId: string;
  /** `context` for a top-level context value, `log` for a log entry. */
  purpose: 'context' | 'log';
  /** The context key, or the log name. */
  field: string;
}

/** Options of `createKeyring`. */
export interface KeyringOptions {
  /** Id of the key that encrypts every new value; must be one of `keys`. */
  current: string;
  /**
   * Every key that may still decrypt, by id: 32 bytes each, as a `Buffer`/`Uint8Array` or base64 (standard
   * or URL-safe). Ids are 1–32 characters of `A-Z a-z 0-9 _ -` and are stored in clear beside each value.
   */
  keys: Readonly<Record<string, Uint8Array | string>>;
}

const KEYRING_BRAND = Symbol.for('@mcp-session/core.Keyring');

/**
 * Server-held keys for at-rest encryption: the current key encrypts, every key decrypts. Make one with
 * `createKeyring` or `loadKeyringFile` and pass it to `SessionManager` as `encryption`. Key material never
 * leaves it: it prints, inspects and serializes as its key ids only.
 */
export class Keyring {
  /** Id of the key new values are encrypted with. */
  readonly currentKeyId: string;
  readonly #keys: ReadonlyMap<string, Buffer>;
  /** Derived AES keys, by key id, purpose and storage id: a manager reads one session many times. */
  readonly #derived = new Map<string, Buffer>();

  /** @internal Use `createKeyring`, which validates. */
  constructor(current: string, keys: ReadonlyMap<string, Buffer>) {
    this.currentKeyId = current;
    this.#keys = keys;
    Object.defineProperty(this, KEYRING_BRAND, { value: true });
  }

  /** The ids of every key, the current one included. */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** Whether the keyring holds a key of this id. */
  has(keyId: string): boolean {
    return this.#keys.has(keyId);
  }

  /** The stored form of `value`: a string naming the current key id. A fresh IV each call. */
  encrypt(value: JsonValue, binding: EncryptionBinding): string {
    const keyId = this.currentKeyId;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, this.#derive(keyId, binding), iv, {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(additionalData(keyId, binding));
    const plaintext = Buffer.from(JSON.stringify(value), 'utf8');
    const sealed = Buffer.concat([
      iv,
      cipher.update(plaintext),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return `${ENCRYPTED_VALUE_PREFIX}${keyId}:${sealed.toString('base64url')}`;
  }

  /**
   * The value of a stored form made by `encrypt` for the same binding.
   * @throws DecryptionError (`unknown-key` or `tampered`) naming the key id; never the value.
   */
  decrypt(stored: string, binding: EncryptionBinding): JsonValue {
    const field = fieldName(binding);
    const parsed = parseEncryptedValue(stored);
    if (parsed === null) throw new DecryptionError('tampered', null, field);
    const { keyId, payload } = parsed;
    if (!this.#keys.has(keyId)) throw new DecryptionError('unknown-key', keyId, field);
    const sealed = BASE64URL.test(payload) ? Buffer.from(payload, 'base64url') : null;
    if (sealed === null || sealed.length < IV_BYTES + TAG_BYTES) {
      throw new DecryptionError('tampered', keyId, field);
    }
    const decipher = createDecipheriv(
      CIPHER,
      this.#derive(keyId, binding),
      sealed.subarray(0, IV_BYTES),
      { authTagLength: TAG_BYTES },
    );
    decipher.setAAD(additionalData(keyId, binding));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const decrypted = decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES));
    let plaintext: Buffer;
    try {
      // Only `final` checks the tag: nothing decrypted is used before it passes.
      plaintext = Buffer.concat([decrypted, decipher.final()]);
    } catch {
      throw new DecryptionError('tampered', keyId, field);
    }
    return JSON.parse(plaintext.toString('utf8')) as JsonValue;
  }

  toJSON(): { currentKeyId: string; keyIds: string[] } {
    return { currentKeyId: this.currentKeyId, keyIds: this.keyIds };
  }

  [inspect.custom](): string {
    return `Keyring { current: ${JSON.stringify(this.currentKeyId)}, keys: [${this.keyIds
      .map((id) => JSON.stringify(id))
      .join(', ')}] }`;
  }

  #derive(keyId: string, binding: EncryptionBinding): Buffer {
    const cacheKey = `${keyId}\0${binding.purpose}\0${binding.storageId}`;
    let key = this.#derived.get(cacheKey);
    if (key === undefined) {
      const master = this.#keys.get(keyId) as Buffer;
      key = Buffer.from(
        hkdfSync(
          'sha256',
          master,
          HKDF_SALT,
          `mcp-session ${binding.purpose} v${FORMAT_VERSION}\0${binding.storageId}`,
          KEY_BYTES,
        ),
      );
      // Bounded: a long-lived manager sees many sessions; dropping the oldest costs one HKDF later.
      if (this.#derived.size >= DERIVED_CACHE_SIZE) {
        const oldest = this.#derived.keys().next().value as string;
        this.#derived.delete(oldest);
      }
      this.#derived.set(cacheKey, key);
    }
    return key;
  }
}

const DERIVED_CACHE_SIZE = 1024;

/** True for a keyring made by `createKeyring` in any copy of this package. */
export function isKeyring(value: unknown): value is Keyring {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { [KEYRING_BRAND]?: unknown })[KEYRING_BRAND] === true
  );
}

/**
 * A validated keyring.
 * @throws KeyringError for a `current` id missing from `keys`, an unsafe id, a key that is not 32 bytes
 *   (the message names the id, never the key).
 */
export function createKeyring(options: KeyringOptions): Keyring {
  if (typeof options !== 'object' || options === null) {
    throw new KeyringError('A keyring needs { current, keys }.');
  }
  const { current, keys } = options;
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) {
    throw new KeyringError('A keyring needs `keys`: an object of key id → 32-byte key.');
  }
  const decoded = new Map<string, Buffer>();
  for (const [keyId, key] of Object.entries(keys)) {
    assertKeyId(keyId, 'key id');
    decoded.set(keyId, decodeKey(keyId, key));
  }
  if (decoded.size === 0) throw new KeyringError('A keyring needs at least one key.');
  assertKeyId(current, '`current`');
  if (!decoded.has(current)) {
    throw new KeyringError(
      `The keyring's \`current\` key id "${current}" is not among its keys (${[...decoded.keys()]
        .map((id) => `"${id}"`)
        .join(', ')}).`,
    );
  }
  return new Keyring(current, decoded);
}

/**
 * Parses a keys file's text (see `loadKeyringFile` for the format). `source` names the file in errors; the
 * text itself is never echoed.
 */
export function parseKeyringJson(text: string, source = 'the keys file'): Keyring {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KeyringError(
      `${source} is not valid JSON. Expected {"current": "<key id>", "keys": {"<key id>": "<base64 of 32 bytes>"}}.`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new KeyringError(
      `${source} must hold a JSON object {"current": "<key id>", "keys": {"<key id>": "<base64 of 32 bytes>"}}.`,
    );
  }
  const { current, keys, ...rest } = parsed as Record<string, unknown>;
  const unknown = Object.keys(rest).length;
  if (unknown > 0) {
    // Not named: a key pasted at the top level would be echoed.
    throw new KeyringError(
      `${source} has ${unknown} unknown field${unknown === 1 ? '' : 's'}; expected only "current" and "keys".`,
    );
  }
  if (typeof current !== 'string') {
    throw new KeyringError(`${source} needs "current": the id of the key that encrypts.`);
  }
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) {
    throw new KeyringError(`${source} needs "keys": an object of key id → base64 of 32 bytes.`);
  }
  for (const [keyId, key] of Object.entries(keys)) {
    if (typeof key !== 'string') {
      assertKeyId(keyId, `key id in ${source}`);
      throw new KeyringError(`Key "${keyId}" in ${source} must be a base64 string of 32 bytes.`);
    }
  }
  return createKeyring({ current, keys: keys as Record<string, string> });
}

/**
 * Reads a keys file:
 *
 * ```json
 * { "current": "2026-12", "keys": { "2026-06": "<base64 of 32 bytes>", "2026-12": "<base64 of 32 bytes>" } }
 * ```
 *
 * `current` encrypts, every key in `keys` decrypts. Generate a key with `openssl rand -base64 32` (or
 * `node -e "console.log(require('node:crypto').randomBytes(32).toString('base64'))"`). The error for a
 * missing or malformed file names the path, never its content.
 */
export async function loadKeyringFile(path: string): Promise<Keyring> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new KeyringError(
      `Cannot read the keys file ${path}${typeof code === 'string' ? ` (${code})` : ''}.`,
    );
  }
  return parseKeyringJson(text, `The keys file ${path}`);
}

/** Whether a stored value is in the encrypted form (of any key id, possibly malformed). */
export function isEncryptedValue(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(ENCRYPTED_VALUE_PREFIX);
}

/** The key id an encrypted stored value names, or null when it is not well formed. */
export function encryptedKeyId(value: string): string | null {
  return parseEncryptedValue(value)?.keyId ?? null;
}

/**
 * The stored value for `value`: encrypted when a keyring is given. Without one, a string that looks like
 * the encrypted form is refused (it would read back as ciphertext) by the manager before it gets here.
 */
export function sealValue(
  keyring: Keyring | null,
  value: JsonValue,
  binding: EncryptionBinding,
): JsonValue {
  return keyring === null ? value : keyring.encrypt(value, binding);
}

/**
 * The value of a stored value. Values in clear (written before encryption was enabled) are returned as
 * they are; encrypted ones need the keyring.
 * @throws DecryptionError when it is encrypted and there is no keyring, the key is missing, or the tag fails.
 */
export function openValue(
  keyring: Keyring | null,
  stored: JsonValue,
  binding: EncryptionBinding,
): JsonValue {
  if (!isEncryptedValue(stored)) return stored;
  if (keyring === null) {
    throw new DecryptionError('no-keyring', encryptedKeyId(stored), fieldName(binding));
  }
  return keyring.decrypt(stored, binding);
}

function parseEncryptedValue(stored: string): { keyId: string; payload: string } | null {
  if (!stored.startsWith(ENCRYPTED_VALUE_PREFIX)) return null;
  const rest = stored.slice(ENCRYPTED_VALUE_PREFIX.length);
  const colon = rest.indexOf(':');
  if (colon < 0) return null;
  const keyId = rest.slice(0, colon);
  if (!KEY_ID.test(keyId)) return null;
  return { keyId, payload: rest.slice(colon + 1) };
}

function additionalData(keyId: string, binding: EncryptionBinding): Buffer {
  return Buffer.from(
    `mcp-session/at-rest\0v${FORMAT_VERSION}\0${keyId}\0${binding.purpose}\0${binding.storageId}\0${binding.field}`,
    'utf8',
  );
}

function fieldName(binding: EncryptionBinding): string {
  return `${binding.purpose === 'context' ? 'context' : 'log'}.${binding.field}`;
}

function assertKeyId(keyId: unknown, what: string): asserts keyId is string {
  if (typeof keyId !== 'string' || !KEY_ID.test(keyId)) {
    // Not echoed: what stands where an id should may be a key.
    throw new KeyringError(
      `The keyring has a ${what} that is not a key id: use 1 to 32 characters of A-Z, a-z, 0-9, "_" or "-".`,
    );
  }
}

function decodeKey(keyId: string, key: unknown): Buffer {
  let bytes: Buffer | null = null;
  if (key instanceof Uint8Array) bytes = Buffer.from(key);
  else if (typeof key === 'string' && BASE64.test(key.trim())) {
    bytes = Buffer.from(key.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  }
  if (bytes === null) {
    throw new KeyringError(`Key "${keyId}" must be 32 bytes, as a Buffer or base64.`);
  }
  if (bytes.length !== KEY_BYTES) {
    throw new KeyringError(
      `Key "${keyId}" is ${bytes.length} bytes; AES-256 keys are 32 bytes (generate one with \`openssl rand -base64 32\`).`,
    );
  }
  return bytes;
}
