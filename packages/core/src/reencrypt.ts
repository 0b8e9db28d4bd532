import { type Clock, systemClock } from './clock.js';
import {
  type EncryptionBinding,
  encryptedKeyId,
  isEncryptedValue,
  isKeyring,
  type Keyring,
} from './encryption.js';
import { InvalidValueError, isSessionError, ReencryptionUnsupportedError } from './errors.js';
import { HISTORY_LOG } from './manager.js';
import type { ReplacementEntry, SessionStore } from './store.js';
import type { JsonObject, JsonValue, SessionRecord } from './types.js';
import { assertPositiveInteger } from './validation.js';

/** Where a re-encryption stands; handed to `onProgress` after every session. */
export interface ReencryptProgress {
  /** Sessions looked at so far (rewritten or already current). */
  done: number;
  /**
   * Sessions the store held when the run started (`store.count`); sessions created during the run may
   * push `done` past it.
   */
  total: number;
  /** Top-level context values rewritten under the current key so far. */
  contextValues: number;
  /** History entries rewritten under the current key so far. */
  historyEntries: number;
  /**
   * The `list` cursor after the last finished page, or null before the first: pass it as `cursor` to go
   * on from there after an interruption (starting over is also correct, only slower).
   */
  cursor: string | null;
}

/** Options of `reencryptStore`. */
export interface ReencryptOptions {
  /** Sessions per `list` page and history entries per read/replace. Default 100. */
  batchSize?: number;
  /** Called after every session. */
  onProgress?: (progress: ReencryptProgress) => void;
  /** Resume from this `list` cursor (a `progress.cursor`). Default: from the start. */
  cursor?: string | null;
  /** Source of "now" for the store's expiry checks. Default: the wall clock. */
  clock?: Clock;
  /**
   * Stops between two sessions once aborted: the result then has `complete: false`, and `cursor` says
   * where to go on.
   */
  signal?: AbortSignal;
  /** Retries of one session's context write that lost a race with live traffic. Default 50. */
  maxConflictRetries?: number;
}

/** What `reencryptStore` did. */
export interface ReencryptResult extends ReencryptProgress {
  /** Sessions that went away (expired, swept, deleted) while they were being rewritten. */
  vanished: number;
  /** False when `signal` stopped the run before the last session; `cursor` resumes it. */
  complete: boolean;
}

/**
 * Rewrites every context value and history entry of the store that is not encrypted with the keyring's
 * current key: values under older keys, and values in clear written before encryption was enabled.
 *
 * - **Concurrency-safe with live traffic.** A session's context is rewritten with one `update` of the keys
 *   that need it, guarded by the version it was read at; a conflict re-reads and retries, so a write by
 *   the application is never undone. History entries are rewritten with `replaceEntries`, which keeps
 *   seqs and times and skips entries trimmed meanwhile. Both bump the record's `version`, nothing else
 *   (not activity, not expiry).
 * - **Idempotent and resumable.** What is already under the current key is left alone, so running it again
 *   (or from `progress.cursor`) finishes an interrupted run.
 * - Run it once every instance uses the new current key: an instance still encrypting with the old key
 *   writes old-key values after this pass.
 *
 * @throws ReencryptionUnsupportedError when the store has no `replaceEntries` (an adapter older than it).
 * @throws DecryptionError when a value is under a key the keyring lacks, or does not verify.
 */
export async function reencryptStore(
  store: SessionStore,
  keyring: Keyring,
  options: ReencryptOptions = {},
): Promise<ReencryptResult> {
  if (!isKeyring(keyring)) {
    throw new InvalidValueError(
      'reencryptStore needs a keyring made by createKeyring or loadKeyringFile',
    );
  }
  if (typeof (store as Partial<SessionStore>).replaceEntries !== 'function') {
    throw new ReencryptionUnsupportedError(
      'This store has no replaceEntries primitive, which re-encryption needs to rewrite history entries: upgrade its adapter package. Nothing was rewritten.',
    );
  }
  const batchSize = options.batchSize ?? 100;
  assertPositiveInteger(batchSize, 'batchSize');
  const maxRetries = options.maxConflictRetries ?? 50;
  assertPositiveInteger(maxRetries, 'maxConflictRetries');
  const clock = options.clock ?? systemClock;
  const progress: ReencryptProgress = {
    done: 0,
    total: await store.count({ now: clock.now() }),
    contextValues: 0,
    historyEntries: 0,
    cursor: options.cursor ?? null,
  };
  let vanished = 0;
  for (;;) {
    const page = await store.list({
      now: clock.now(),
      limit: batchSize,
      ...(progress.cursor === null ? {} : { cursor: progress.cursor }),
    });
    for (const [index, listed] of page.records.entries()) {
      if (options.signal?.aborted) return { ...progress, vanished, complete: false };
      const context = await reencryptContext(store, keyring, listed, clock, maxRetries);
      const history =
        context === null
          ? null
          : await reencryptHistory(store, keyring, listed.id, clock, batchSize);
      if (context === null || history === null) vanished++;
      progress.contextValues += context ?? 0;
      progress.historyEntries += history ?? 0;
      progress.done++;
      if (index === page.records.length - 1) progress.cursor = page.nextCursor;
      options.onProgress?.({ ...progress });
    }
    if (page.nextCursor === null) break;
    progress.cursor = page.nextCursor;
  }
  return { ...progress, vanished, complete: true };
}

/** Values rewritten, or null when the session went away. */
async function reencryptContext(
  store: SessionStore,
  keyring: Keyring,
  listed: SessionRecord,
  clock: Clock,
  maxRetries: number,
): Promise<number | null> {
  let record: SessionRecord | null = listed;
  for (let attempt = 0; ; attempt++) {
    if (record === null) return null;
    const changed = staleContextValues(keyring, record.id, record.context);
    const count = Object.keys(changed).length;
    if (count === 0) return 0;
    try {
      await store.update(
        record.id,
        { contextSet: changed },
        {
          now: clock.now(),
          expectedVersion: record.version,
        },
      );
      return count;
    } catch (error) {
      if (isSessionError(error, 'SESSION_NOT_FOUND')) return null;
      if (!isSessionError(error, 'VERSION_CONFLICT') || attempt >= maxRetries) throw error;
    }
    record = await store.get(listed.id, { now: clock.now() });
  }
}

/** The context values that are not under the current key, re-encrypted under it. */
function staleContextValues(keyring: Keyring, storageId: string, context: JsonObject): JsonObject {
  const changed: JsonObject = {};
  for (const [key, value] of Object.entries(context)) {
    const rewritten = rewrite(keyring, value, { storageId, purpose: 'context', field: key });
    if (rewritten !== undefined) changed[key] = rewritten;
  }
  return changed;
}

/** Entries rewritten, or null when the session went away. */
async function reencryptHistory(
  store: SessionStore,
  keyring: Keyring,
  storageId: string,
  clock: Clock,
  batchSize: number,
): Promise<number | null> {
  const binding: EncryptionBinding = { storageId, purpose: 'log', field: HISTORY_LOG };
  let rewritten = 0;
  let afterSeq = 0;
  try {
    for (;;) {
      const entries = await store.read(storageId, HISTORY_LOG, {
        now: clock.now(),
        afterSeq,
        limit: batchSize,
      });
      const replacements: ReplacementEntry[] = [];
      for (const entry of entries) {
        const value = rewrite(keyring, entry.data, binding);
        if (value !== undefined) replacements.push({ seq: entry.seq, value });
      }
      if (replacements.length > 0) {
        // Unguarded on purpose: history entries never change but by this rewrite, which writes the same
        // plaintext; trimmed seqs are skipped by the store.
        const { replaced } = await store.replaceEntries(storageId, HISTORY_LOG, replacements, {
          now: clock.now(),
        });
        rewritten += replaced;
      }
      const last = entries.at(-1);
      if (last === undefined || entries.length < batchSize) return rewritten;
      afterSeq = last.seq;
    }
  } catch (error) {
    if (isSessionError(error, 'SESSION_NOT_FOUND')) return null;
    throw error;
  }
}

/** The value under the current key, or undefined when it already is. */
function rewrite(
  keyring: Keyring,
  stored: JsonValue,
  binding: EncryptionBinding,
): string | undefined {
  if (isEncryptedValue(stored) && encryptedKeyId(stored) === keyring.currentKeyId) {
    // Verified, not just looked at: a tampered value under the current id must not pass as done.
    keyring.decrypt(stored, binding);
    return undefined;
  }
  const plaintext = isEncryptedValue(stored) ? keyring.decrypt(stored, binding) : stored;
  return keyring.encrypt(plaintext, binding);
}
