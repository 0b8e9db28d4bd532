import type {
  ManualClock,
  SessionManager,
  SessionManagerOptions,
  SessionRecord,
  SessionStore,
  StoreCapabilities,
} from '@mcp-session/core';

/** The groups of the suite, in run order. */
export const GROUPS = [
  'records',
  'logs',
  'replaceEntries',
  'concurrency',
  'expiry',
  'listing',
  'stats',
  'isolation',
  'manager',
  'encryption',
  'validation',
  'lifecycle',
  'durable',
  'processes',
  'messaging',
] as const;

export type GroupName = (typeof GROUPS)[number];

/** How the suite reaches an adapter. */
export interface ConformanceOptions {
  /** Shown in the test names, e.g. "sqlite". */
  name: string;
  /** A new, empty, isolated location for one test: a store URL, a file path… whatever `open` takes. */
  location(): string | Promise<string>;
  /** Opens a store at a location. The durable group opens one location several times. */
  open(location: string): SessionStore | Promise<SessionStore>;
  /** Removes whatever a location holds; runs after each test, after its stores are closed. */
  destroy?(location: string): void | Promise<void>;
  /**
   * Absolute path of an ES module exporting `open(location): Promise<SessionStore>`, loaded in child
   * processes by the "lifecycle" (the process can exit after close), "processes" and "messaging" groups. Without it
   * those cases are skipped with that reason.
   */
  childModule?: string;
  /** Node flags for the children. Default: `['--import', 'tsx']` when `childModule` ends in `.ts`. */
  childExecArgv?: string[];
  /**
   * Makes the stored payload of one record unreadable to this store, for the isolation case that shows
   * owner and expiry are checked before any payload is read ("a stranger's or an expired read never
   * touches the payload"). Given the location and a record's storage id, it must damage, in the
   * backend itself, the record's context and every entry of its logs so that reading them fails:
   * garbage bytes, invalid JSON, or a value the adapter's parser rejects. Leave the fields the guards
   * look at (id, owner, expiry, state, version) intact. It is called once after the record is written
   * and once more after the probes: then it must throw when the record or its payload is no longer
   * stored (nothing to damage), so a store that deleted or quarantined the record on a stranger's read
   * cannot pass. Without it that case is skipped with that reason.
   */
  damagePayload?(location: string, storageId: string): Promise<void>;
  /** Groups to skip, each with the reason to report. */
  skip?: Partial<Record<GroupName, string>>;
}

/** What a case needs that not every store has. */
export type Requirement = keyof StoreCapabilities | 'childModule' | 'damagePayload';

/** One conformance check. `run` throws (an assertion error) when the store breaks the contract. */
export interface ConformanceCase {
  group: GroupName;
  name: string;
  /** What the case needs; with a list, it needs every one of them. */
  requires?: Requirement | readonly Requirement[];
  /** Milliseconds; default 30 000. */
  timeout?: number;
  run(t: CaseContext): Promise<void>;
}

/** Everything a case gets. Stores it opens are closed, and the location destroyed, after the case. */
export interface CaseContext {
  /** A store opened at a fresh location. */
  store: SessionStore;
  location: string;
  /** Starts at the real current time and only moves forward. */
  clock: ManualClock;
  /** A manager over `store` with `clock` (options override the defaults). */
  manager(options?: Omit<SessionManagerOptions, 'store'>): SessionManager;
  /** Closes `store`, opens the location again and makes that the new `store`. */
  reopen(): Promise<SessionStore>;
  /** Opens a second store on the same location (both stay open). */
  openAnother(): Promise<SessionStore>;
  /** A valid record with a random storage id, expiring in an hour unless overridden. */
  record(overrides?: Partial<SessionRecord>): SessionRecord;
  /** The suite option `damagePayload` on this case's location (cases that call it require it). */
  damagePayload(storageId: string): Promise<void>;
  /** Runs a task of the child runner in a new process and returns what it printed as JSON. */
  child(task: string, args: Record<string, unknown>): Promise<unknown>;
}
