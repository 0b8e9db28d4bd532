import { BaseMessageBus } from '@mcp-session/core/adapter';
import type { Database, Statement } from 'better-sqlite3';

/** How often a process with subscriptions looks for new messages, milliseconds. */
export const DEFAULT_MESSAGE_POLL_INTERVAL_MS = 50;

/** How long a message stays in the `messages` table before publishers prune it, milliseconds. */
export const DEFAULT_MESSAGE_RETENTION_MS = 60_000;

/** Pruning runs at most this often per process, milliseconds. */
const PRUNE_INTERVAL_MS = 5_000;

/** Rows one poll reads at most; a poll that fills it reads on at once. */
const POLL_BATCH = 500;

/** Options of `SqliteMessageBus`. */
export interface SqliteMessageBusOptions {
  /** Milliseconds between polls while anything is subscribed, from 1. */
  pollIntervalMs: number;
  /** Milliseconds a message is kept for slow pollers before it is pruned, from 1. */
  retentionMs: number;
}

interface MessageRow {
  id: number;
  channel: string;
  payload: string;
}

/**
 * Messages between the processes on one SQLite file, through its `messages` table: `publish` inserts a
 * row (one autocommit write); a process with subscriptions polls for rows after the last id it saw,
 * every `pollIntervalMs`, on an unref'd timer that runs only while something is subscribed. Ids come from
 * AUTOINCREMENT and SQLite commits one writer at a time, so a row committed later always has a larger id
 * and a poll never skips one. Latency is one poll interval at most (plus the write); rows older than
 * `retentionMs` are deleted by publishers, so the table holds about that long's traffic.
 */
export class SqliteMessageBus extends BaseMessageBus {
  readonly #options: SqliteMessageBusOptions;
  readonly #insert: Statement;
  readonly #prune: Statement;
  readonly #lastId: Statement;
  readonly #select: Statement;
  /** Channels this process polls for. */
  readonly #polled = new Set<string>();
  #cursor = 0;
  #timer: NodeJS.Timeout | undefined;
  #lastPrune = 0;
  /** Set during a poll, so a handler that subscribes does not start a second one inside it. */
  #polling = false;

  constructor(db: Database, options: SqliteMessageBusOptions) {
    super({ backend: 'SQLite' });

    this.#options = options;
    this.#insert = db.prepare('INSERT INTO messages (channel, payload, at) VALUES (?, ?, ?)');
    this.#prune = db.prepare('DELETE FROM messages WHERE at < ?');
    this.#lastId = db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM messages');
    this.#select = db.prepare(
      `SELECT id, channel, payload FROM messages
       WHERE id > ? AND id <= ? AND channel IN (SELECT value FROM json_each(?))
       ORDER BY id LIMIT ${POLL_BATCH}`,
    );
  }

  protected async sendMessage(channel: string, payload: string): Promise<void> {
    const now = Date.now();
    this.#insert.run(channel, payload, now);
    if (now - this.#lastPrune >= PRUNE_INTERVAL_MS) {
      this.#lastPrune = now;
      this.#prune.run(now - this.#options.retentionMs);
    }
  }

  protected async startListening(channel: string): Promise<void> {
    if (this.#polled.size === 0) {
      this.#cursor = (this.#lastId.get() as { id: number }).id;
    } else {
      // Messages up to now belong to the channels polled so far; the new one starts after them.
      this.#poll();
    }
    this.#polled.add(channel);
    this.#schedule();
  }

  protected async stopListening(channel: string): Promise<void> {
    this.#polled.delete(channel);
    if (this.#polled.size === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  protected async releaseBus(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#polled.clear();
  }

  #schedule(): void {
    if (this.#timer || this.closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.closed || this.#polled.size === 0) return;
      try {
        this.#poll();
      } catch {
        // A busy or failing database: the next poll tries again from the same cursor.
      }
      this.#schedule();
    }, this.#options.pollIntervalMs);
    // Subscriptions alone never keep the process alive; close() stops the timer.
    this.#timer.unref();
  }

  #poll(): void {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const channels = JSON.stringify([...this.#polled]);
      // Writers commit one at a time and ids grow with each, so every row up to the newest id is
      // committed: reading up to it and moving the cursor there skips nothing.
      const last = (this.#lastId.get() as { id: number }).id;
      while (this.#cursor < last) {
        const rows = this.#select.all(this.#cursor, last, channels) as MessageRow[];
        for (const row of rows) {
          if (this.#polled.has(row.channel)) this.deliver(row.channel, row.payload);
        }
        const lastRow = rows.at(-1);
        this.#cursor = rows.length < POLL_BATCH || !lastRow ? last : lastRow.id;
      }
    } finally {
      this.#polling = false;
    }
  }
}
