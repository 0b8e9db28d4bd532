import type { SessionState } from './types.js';

/** Stable machine-readable codes of every error this project throws. */
export type SessionErrorCode =
  | 'SESSION_NOT_FOUND'
  | 'SESSION_CLOSED'
  | 'SESSION_EXISTS'
  | 'SESSION_SUSPENDED'
  | 'VERSION_CONFLICT'
  | 'INVALID_TRANSITION'
  | 'INVALID_ID'
  | 'INVALID_VALUE'
  | 'PAYLOAD_TOO_LARGE'
  | 'STORE_UNAVAILABLE'
  | 'STORE_CLOSED'
  | 'INVALID_STORE_URL'
  | 'STORE_PACKAGE_MISSING'
  | 'QUOTA_EXCEEDED'
  | 'STORE_NOT_FOUND'
  | 'INVALID_KEYRING'
  | 'DECRYPTION_FAILED'
  | 'REENCRYPTION_UNSUPPORTED';

/**
 * Marks every error of this project. `Symbol.for` makes it the same symbol in every copy of this package,
 * so an error thrown by an adapter that resolved another copy of core is still recognised.
 */
const SESSION_ERROR_BRAND = Symbol.for('@mcp-session/core.SessionError');

/**
 * Codes that also count as another code, as their classes extend another class: a closed session is also
 * not found, a closed store is also unavailable.
 */
const BROADER_CODE: Partial<Record<SessionErrorCode, SessionErrorCode>> = {
  SESSION_CLOSED: 'SESSION_NOT_FOUND',
  STORE_CLOSED: 'STORE_UNAVAILABLE',
};

/**
 * Base class of every error thrown by `@mcp-session/*`. Switch on `code`, which never changes. Recognise
 * these errors with `isSessionError(error, code)`, not `instanceof`: `instanceof` is false for an error
 * made by a second copy of this package (two versions installed side by side), the brand and the code
 * are not.
 */
export abstract class SessionError extends Error {
  abstract readonly code: SessionErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    Object.defineProperty(this, SESSION_ERROR_BRAND, { value: true });
  }
}

/**
 * True for any error thrown by this project, from whichever copy of the package (optionally: of one code).
 * A code also matches the errors that refine it: `isSessionError(error, 'SESSION_NOT_FOUND')` is true for
 * `SESSION_CLOSED`, `'STORE_UNAVAILABLE'` for `STORE_CLOSED` — as `instanceof` would be.
 */
export function isSessionError(error: unknown, code?: SessionErrorCode): error is SessionError {
  if (typeof error !== 'object' || error === null) return false;
  if ((error as { [SESSION_ERROR_BRAND]?: unknown })[SESSION_ERROR_BRAND] !== true) return false;
  if (code === undefined) return true;
  const actual = (error as SessionError).code;
  return actual === code || BROADER_CODE[actual] === code;
}

/**
 * The session does not exist, has expired, is closed, or is bound to another owner. The four cases are
 * deliberately indistinguishable to a caller who is not the owner, so the error is no existence oracle.
 */
export class SessionNotFoundError extends SessionError {
  readonly code: SessionErrorCode = 'SESSION_NOT_FOUND';

  constructor(
    message = 'Session not found (unknown, expired, closed, or bound to another owner).',
  ) {
    super(message);
  }
}

/**
 * The session was closed. Only its owner (or anyone, for an unbound session) sees this code; it extends
 * `SessionNotFoundError` so code that treats "closed" like "missing" needs no extra case.
 */
export class SessionClosedError extends SessionNotFoundError {
  override readonly code: SessionErrorCode = 'SESSION_CLOSED';

  constructor() {
    super('Session is closed. Closed sessions cannot be used again: create a new session.');
  }
}

/** `create` found a live record with the same id. Stores never overwrite on create. */
export class SessionExistsError extends SessionError {
  readonly code = 'SESSION_EXISTS' as const;

  constructor(readonly id: string) {
    super(`A session with storage id "${id}" already exists; create never overwrites.`);
  }
}

/** A write was refused because the session is suspended. Resume it (transition to `active`) first. */
export class SessionSuspendedError extends SessionError {
  readonly code = 'SESSION_SUSPENDED' as const;

  constructor() {
    super(
      'Session is suspended: it can be read, but writes need it resumed (transition to "active").',
    );
  }
}

/**
 * A guarded write lost a race: the record's version or state was no longer the one the caller expected.
 * Re-read the session and retry if the change still makes sense.
 */
export class VersionConflictError extends SessionError {
  readonly code = 'VERSION_CONFLICT' as const;

  constructor(
    /** Which guard failed. */
    readonly guard: 'version' | 'state',
    /** Version found in the store. */
    readonly actualVersion: number,
    /** State found in the store. */
    readonly actualState: SessionState,
  ) {
    super(
      guard === 'version'
        ? `Version conflict: the session is now at version ${actualVersion}. Re-read and retry.`
        : `State conflict: the session is now "${actualState}". Re-read and retry.`,
    );
  }
}

/** The state machine does not allow this transition. */
export class InvalidTransitionError extends SessionError {
  readonly code = 'INVALID_TRANSITION' as const;

  constructor(
    readonly from: SessionState,
    readonly to: SessionState,
    allowed: readonly SessionState[],
  ) {
    super(
      `Cannot move a session from "${from}" to "${to}". Allowed from "${from}": ${
        allowed.length > 0 ? allowed.map((s) => `"${s}"`).join(', ') : 'nothing (terminal state)'
      }.`,
    );
  }
}

/** A session id (or storage id) is empty, too long, or has characters outside visible ASCII 0x21–0x7E. */
export class InvalidIdError extends SessionError {
  readonly code = 'INVALID_ID' as const;
}

/** A value is not plain JSON, breaks a structural limit, or an argument is out of range. Nothing was written. */
export class InvalidValueError extends SessionError {
  readonly code = 'INVALID_VALUE' as const;

  constructor(
    message: string,
    /** Where in the value the problem is, e.g. `context.user.tags[3]`. */
    readonly path?: string,
  ) {
    super(path === undefined ? message : `${message} (at ${path})`);
  }
}

/** A value is larger than the configured limit. Nothing was written. */
export class PayloadTooLargeError extends SessionError {
  readonly code = 'PAYLOAD_TOO_LARGE' as const;

  constructor(
    /** What was too large, e.g. "message" or "context". */
    readonly what: string,
    /** Limit in bytes of UTF-8 JSON. */
    readonly limit: number,
    /** Actual size in bytes, when known. */
    readonly actual?: number,
  ) {
    super(
      `${what} is too large: ${actual === undefined ? 'over' : `${actual} bytes, over`} the limit of ${limit} bytes. ` +
        'Store less, or raise the limit in the manager options.',
    );
  }
}

/**
 * The backend could not be reached or failed mid-operation (connection refused or dropped, timeout,
 * I/O error). The operation may or may not have been applied; retry once the backend is back, after
 * re-reading when the write was not idempotent. (A driver that queues commands while offline could
 * even apply it later; the built-in stores configure their own clients never to resend a failed one.)
 */
export class StoreUnavailableError extends SessionError {
  readonly code: SessionErrorCode = 'STORE_UNAVAILABLE';
}

/** The store was closed with `close()`; open a new one. */
export class StoreClosedError extends StoreUnavailableError {
  override readonly code: SessionErrorCode = 'STORE_CLOSED';

  constructor() {
    super('The session store is closed; open a new store.');
  }
}

/** `createStore` got a URL it cannot use. */
export class InvalidStoreUrlError extends SessionError {
  readonly code = 'INVALID_STORE_URL' as const;
}

/**
 * A store opened with `mustExist` (the CLI's read commands, `migrate --from`) is not there: the path,
 * directory or schema holds no store of this kind. Nothing was created. Check the URL.
 */
export class StoreNotFoundError extends SessionError {
  readonly code = 'STORE_NOT_FOUND' as const;
}

/** `createStore` needs a backend package that is not installed. The message names what to install. */
export class StorePackageMissingError extends SessionError {
  readonly code = 'STORE_PACKAGE_MISSING' as const;

  constructor(
    readonly scheme: string,
    /** Packages to install, e.g. `['@mcp-session/sqlite', 'better-sqlite3']`. */
    readonly packages: readonly string[],
    options?: ErrorOptions,
  ) {
    super(
      `The "${scheme}:" session store needs ${packages.join(' and ')}. Install it: npm install ${packages.join(' ')}. ` +
        `If it is installed and this code is bundled, hand the adapter to createStore (\`adapters\` option) or import '${packages[0] ?? ''}/register'.`,
      options,
    );
  }
}

/**
 * A new session would exceed a quota on stored sessions: the owner's (`maxSessionsPerOwner`) or everyone's
 * (`maxSessions`). Nothing was written. Close sessions that are no longer used, or wait for idle ones to
 * expire.
 */
export class QuotaExceededError extends SessionError {
  readonly code = 'QUOTA_EXCEEDED' as const;

  constructor(
    /** Whose quota: one owner's, or the store's total. */
    readonly scope: 'owner' | 'total',
    /** The quota, in sessions. */
    readonly limit: number,
  ) {
    super(
      scope === 'owner'
        ? `This owner already has ${limit} sessions, the most allowed. Close sessions that are no longer used, or wait for idle ones to expire.`
        : `The store holds ${limit} sessions, the most allowed. Retry later.`,
    );
  }
}

/**
 * A keyring for at-rest encryption (`createKeyring`, `loadKeyringFile`) is malformed: a key that is not
 * 32 bytes, a `current` id that names no key, an id with characters outside `A-Z a-z 0-9 _ -`, a keys file
 * that is not the documented JSON. The message names the key id or the field, never key material or the
 * file's content. Nothing was encrypted.
 */
export class KeyringError extends SessionError {
  readonly code = 'INVALID_KEYRING' as const;
}

/**
 * A stored value did not decrypt: it names a key id the keyring lacks (add the old key back until the store
 * is re-encrypted), it was altered or copied from another session or context key (the authentication tag
 * does not match), or the manager has no keyring but the store holds encrypted values. Nothing secret is
 * in the message: only the key id, the kind of field, and the context key or log name.
 */
export class DecryptionError extends SessionError {
  readonly code = 'DECRYPTION_FAILED' as const;

  constructor(
    /** Why: the manager has no keyring, the keyring lacks the key, or the ciphertext does not verify. */
    readonly reason: 'no-keyring' | 'unknown-key' | 'tampered',
    /** The key id the stored value names, or null when it names none (malformed). */
    readonly keyId: string | null,
    /** What failed: `context.<key>` or `log.<name>`. */
    readonly field: string,
  ) {
    const key = keyId === null ? 'an unreadable key id' : `key id "${keyId}"`;
    super(
      reason === 'no-keyring'
        ? `${field} is encrypted (${key}) but this SessionManager has no keyring: pass the keyring as the \`encryption\` option.`
        : reason === 'unknown-key'
          ? `${field} is encrypted with ${key}, which the keyring does not hold: add that key to the keyring (older keys stay until the store is re-encrypted).`
          : `${field} does not decrypt (${key}): it was altered, truncated, or copied from another session or field.`,
    );
  }
}

/**
 * `reencryptStore` needs the store primitive `replaceEntries` to rewrite history entries, and this store
 * (an adapter written before it existed) does not have it. Upgrade the adapter. Nothing was rewritten.
 */
export class ReencryptionUnsupportedError extends SessionError {
  readonly code = 'REENCRYPTION_UNSUPPORTED' as const;
}
