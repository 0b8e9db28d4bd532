import type { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { SessionContext } from '../tools/session-context.js';
import type { SessionServer } from './rebuild.js';

/** A session this process holds in memory: its transport and server, ready to serve requests. */
export interface LiveSession {
  readonly id: string;
  readonly owner: string | null;
  /** `metadata.mcp.generation` the transport was built for. */
  readonly generation: number;
  readonly server: SessionServer;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly context: SessionContext;
  /** Last time a request started or a response finished, epoch milliseconds (handler clock). */
  lastUsedAt: number;
  /** Requests being handled plus response bodies still streaming (an open GET stream counts). */
  busy: number;
}

/**
 * The in-memory sessions, least recently used first (a `Map` keeps insertion order; `touch` re-inserts).
 * Only the handler mutates it.
 */
export class LiveSessions {
  readonly #sessions = new Map<string, LiveSession>();

  get size(): number {
    return this.#sessions.size;
  }

  get(id: string): LiveSession | undefined {
    return this.#sessions.get(id);
  }

  /** Marks the session as just used (most recently used). */
  touch(session: LiveSession, now: number): void {
    session.lastUsedAt = now;
    if (this.#sessions.get(session.id) === session) {
      this.#sessions.delete(session.id);
      this.#sessions.set(session.id, session);
    }
  }

  add(session: LiveSession): void {
    this.#sessions.delete(session.id);
    this.#sessions.set(session.id, session);
  }

  /** Removes the entry if it is still this session object (a newer one for the same id stays). */
  remove(session: LiveSession): boolean {
    if (this.#sessions.get(session.id) !== session) return false;
    this.#sessions.delete(session.id);
    return true;
  }

  /** Entries not busy and unused since `before`, least recently used first. */
  idleSince(before: number): LiveSession[] {
    const idle: LiveSession[] = [];
    for (const session of this.#sessions.values()) {
      if (session.busy === 0 && session.lastUsedAt <= before) idle.push(session);
    }
    return idle;
  }

  /** Up to `count` entries that are not busy, least recently used first. */
  leastRecentlyUsed(count: number): LiveSession[] {
    const found: LiveSession[] = [];
    for (const session of this.#sessions.values()) {
      if (found.length >= count) break;
      if (session.busy === 0) found.push(session);
    }
    return found;
  }

  all(): LiveSession[] {
    return [...this.#sessions.values()];
  }
}
