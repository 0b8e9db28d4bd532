/**
 * The session workload every target implements the way its API allows: ours through SessionManager,
 * raw drivers in the fewest round trips, generic stores by reading, changing and writing a session blob.
 */
export interface SessionWorkload {
  /** Releases connections and files. */
  close(): Promise<void>;
  /** Creates an active session and returns its id. */
  create(): Promise<string>;
  /** Reads the whole session. */
  get(id: string): Promise<unknown>;
  /** Sets one context key. */
  setContextKey(id: string, key: string, value: number): Promise<unknown>;
  /** Appends one message; `cap` keeps the newest messages, undefined keeps all. */
  append(id: string, message: BenchMessage, cap: number | undefined): Promise<unknown>;
  /** Reads the newest 20 messages. */
  readLast20(id: string): Promise<unknown>;
  /** Moves the session to `to`, guarded by the state it is in (active ↔ idle). */
  transition(id: string, to: 'idle' | 'active'): Promise<unknown>;
  /** Creates `count` more sessions (they expire once `expireAll` has run). */
  seedExpired(count: number): Promise<void>;
  /** Moves the target's clock (or its rows' expiry) so every session so far is expired. Not timed. */
  expireAll?(): Promise<void>;
  /** Deletes every expired session; returns how many. Absent when the target has no way to sweep. */
  sweep?(): Promise<number>;
}

export interface BenchMessage {
  role: string;
  content: string;
  [key: string]: string;
}

/** A message of realistic size (~200 bytes of JSON). */
export function message(i: number): BenchMessage {
  return {
    role: i % 2 === 0 ? 'user' : 'assistant',
    content: `message ${i}: ${'lorem ipsum dolor sit amet '.repeat(6)}`,
  };
}

/** A target: one backend reached one way. */
export interface Target {
  /** e.g. "sqlite". */
  backend: string;
  /** "ours", "raw" (the driver's ceiling) or a peer library's name. */
  kind: string;
  open(): Promise<SessionWorkload>;
}
