import type {
  ConversationSummary,
  HistoryEntry,
  JsonObject,
  JsonValue,
  Session,
  SessionManager,
  SessionMessage,
  SessionStatistics,
} from '@mcp-session/core';

/**
 * One MCP session's data, as a tool handler sees it: context keys and conversation history, read and
 * written through the `SessionManager` with the session's owner presented on every call, so a handler
 * can never reach another owner's session. Every write is one atomic store call; writes of different
 * keys never overwrite each other, on any instance.
 *
 * The server factory receives one as `ctx.session`; `handler.sessionOf(extra)` returns one inside a
 * request handler.
 */
export class SessionContext {
  /**
   * @param manager where the session lives.
   * @param id the MCP session id.
   * @param owner the owner the session is bound to (null when unbound).
   */
  constructor(
    readonly manager: SessionManager,
    readonly id: string,
    readonly owner: string | null,
  ) {}

  /** The session record (state, times, counts, context, metadata). */
  async session(): Promise<Session> {
    return this.manager.requireSession(this.id, { owner: this.owner });
  }

  /** One context key, or undefined when it is not set. */
  async get(key: string): Promise<JsonValue | undefined> {
    return this.manager.getContext(this.id, key, { owner: this.owner });
  }

  /** The whole context. */
  async getAll(): Promise<JsonObject> {
    return this.manager.getContext(this.id, { owner: this.owner });
  }

  /** Sets one context key. */
  async set(key: string, value: JsonValue): Promise<void> {
    await this.manager.setContext(this.id, key, value, { owner: this.owner });
  }

  /** Sets several keys and removes the keys in `remove`, in one atomic write. */
  async update(patch: JsonObject, remove: readonly string[] = []): Promise<void> {
    await this.manager.updateContext(this.id, patch, { owner: this.owner, remove });
  }

  /** Removes context keys (absent ones are ignored). */
  async delete(...keys: string[]): Promise<void> {
    await this.manager.updateContext(this.id, {}, { owner: this.owner, remove: keys });
  }

  /** Appends a message to the session's capped history; returns its sequence number. */
  async addMessage(message: SessionMessage): Promise<number> {
    return (await this.manager.addMessage(this.id, message, { owner: this.owner })).seq;
  }

  /** The history, oldest first: all of it, or the newest `limit` messages. */
  async history(options: { limit?: number } = {}): Promise<HistoryEntry[]> {
    return this.manager.getHistory(this.id, { ...options, owner: this.owner });
  }

  /** Counts, roles and the newest few messages of the history. */
  async summary(recent?: number): Promise<ConversationSummary> {
    return this.manager.getConversationSummary(this.id, {
      owner: this.owner,
      ...(recent === undefined ? {} : { recent }),
    });
  }

  /** Age, idleness (milliseconds), expiry, message and context figures. */
  async statistics(): Promise<SessionStatistics> {
    return this.manager.getSessionStatistics(this.id, { owner: this.owner });
  }
}
