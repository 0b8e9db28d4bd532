/**
 * `@mcp-session/core/adapter`: what a store adapter is built from, apart from the app-facing main entry.
 *
 * - The contract: `SessionStore` and the types of its primitives (see `store.ts` for the rules).
 * - `BaseSessionStore`: extend it and it does the closed check, argument checks (`store-args.ts` lists
 *   every bad input and its error) and driver-error wrapping once, for every primitive.
 * - The store kit: the exact semantics of guards, changes, expiry, cursors and stats, written once.
 * - `readUrlOptions`, `parsePathUrl`, `redactUrl`: one way to read a store URL, the same errors on every
 *   backend.
 * - Every error class, and `isSessionError` to recognise them by brand and code.
 *
 * Depend on `@mcp-session/core` as a peer dependency, so the application and every adapter share one
 * copy; export `storeFromUrl(url)` so `createStore` can open your scheme (`registerStore`); run
 * `@mcp-session/test-suite` against it. Its README is the adapter author's guide: package shape, bad inputs
 * and their errors, registering a scheme, a fresh location per test, atomic reads, the context-size rule,
 * collations. Compare ids, owners, context keys and log names exactly: no collation that ignores case or
 * trailing spaces, no trimming or normalizing.
 */
export { BaseSessionStore, DEFAULT_SWEEP_LIMIT } from './base-store.js';
export { type Clock, ManualClock, systemClock } from './clock.js';
export {
  DecryptionError,
  InvalidIdError,
  InvalidStoreUrlError,
  InvalidTransitionError,
  InvalidValueError,
  isSessionError,
  KeyringError,
  PayloadTooLargeError,
  QuotaExceededError,
  ReencryptionUnsupportedError,
  SessionClosedError,
  SessionError,
  type SessionErrorCode,
  SessionExistsError,
  SessionNotFoundError,
  SessionSuspendedError,
  StoreClosedError,
  StoreNotFoundError,
  StorePackageMissingError,
  StoreUnavailableError,
  VersionConflictError,
} from './errors.js';
export {
  assertValidChannel,
  BaseMessageBus,
  checkPublishArgs,
  checkSubscribeArgs,
  DEFAULT_MAX_MESSAGE_BYTES,
  MAX_CHANNEL_LENGTH,
  type MessageBusOptions,
} from './message-bus.js';
export {
  parsePathUrl,
  redactUrl,
  registerStore,
  type StoreAdapter,
  type StoreAdapterModule,
  type StoreLoader,
  type StoreOpenOptions,
} from './registry.js';
export type {
  AppendOptions,
  AppendResult,
  CountOptions,
  CreateOptions,
  ListOptions,
  ListPage,
  MessageBus,
  MessageHandler,
  ReadOptions,
  RecordGuards,
  ReplaceEntriesOptions,
  ReplaceEntriesResult,
  ReplacementEntry,
  SessionChange,
  SessionStore,
  SweepOptions,
  Touch,
  Unsubscribe,
  UpdateOptions,
} from './store.js';
export {
  checkAppendArgs,
  checkCountArgs,
  checkCreateArgs,
  checkDeleteArgs,
  checkGetArgs,
  checkListArgs,
  checkReadArgs,
  checkReplaceEntriesArgs,
  checkStatsArgs,
  checkSweepArgs,
  checkUpdateArgs,
} from './store-args.js';
export {
  applyChange,
  checkGuards,
  checkImportedLogs,
  contextByteLength,
  decodeListCursor,
  emptyStats,
  encodeListCursor,
  expectedStates,
  type GuardedFields,
  isCounted,
  isExpired,
  isVisibleTo,
  slidingExpiry,
  tallyRecord,
  toStoreError,
} from './store-kit.js';
export {
  type JsonObject,
  type JsonValue,
  type LogEntry,
  SESSION_STATES,
  type SessionRecord,
  type SessionState,
  type StoreCapabilities,
  type StoreStats,
} from './types.js';
export {
  MAX_TIMER_MS,
  readUrlOptions,
  type UrlOptionSpec,
  type UrlOptions,
  type UrlOptionsContext,
  type UrlOptionValue,
} from './url-options.js';
export {
  assertPositiveInteger,
  assertValidId,
  assertValidKey,
  assertValidLogName,
  assertValidOwner,
  jsonByteLength,
  validateJson,
} from './validation.js';
