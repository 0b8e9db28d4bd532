import { createHash } from 'node:crypto';
import { BaseMessageBus } from '@mcp-session/core/adapter';
import pg, { type Client, type Notification, type Pool } from 'pg';

/** Largest payload sent inline in the NOTIFY (Postgres refuses more than 8000 bytes); larger ones go through the table. */
export const INLINE_NOTIFY_BYTES = 7_900;

/** How long a message too large for NOTIFY stays in `mcp_session_messages`, milliseconds. */
export const MESSAGE_RETENTION_MS = 60_000;

/** Pruning runs at most this often per process, milliseconds. */
const PRUNE_INTERVAL_MS = 10_000;

/** Reconnect delays of the listening connection: 100 ms, 200 ms, … up to 1 s between attempts. */
const reconnectDelay = (attempt: number) => Math.min(100 * attempt, 1_000);

/** What the bus needs of its store. */
export interface PostgresBusContext {
  pool: Pool;
  /** The store's schema, for channel names. */
  schema: string;
  /** The schema, quoted for SQL. */
  quoted: string;
  /** Connects and migrates once (the large-message table comes with migration 2). */
  ready(): Promise<void>;
}

/**
 * Postgres LISTEN/NOTIFY. A channel is NOTIFYed as `m` + 62 hex digits of SHA-256(schema, channel): a
 * Postgres channel is an identifier of at most 63 bytes, and hashing keeps every channel name (any
 * length, any case, spaces) exact and stores on different schemas apart. A payload up to
 * `INLINE_NOTIFY_BYTES` travels in the notification; a larger one is inserted into
 * `<schema>.mcp_session_messages` in the same statement that notifies its row id, so the row is
 * committed when the notification arrives. Those rows are deleted after `MESSAGE_RETENTION_MS`.
 *
 * Subscriptions use one dedicated connection (not one of the pool's), opened on the first `subscribe`.
 * When it drops (server restart, `pg_terminate_backend`), the bus reconnects and LISTENs again;
 * messages notified meanwhile are lost (the bus is live only).
 */
export class PostgresMessageBus extends BaseMessageBus {
  readonly #context: PostgresBusContext;
  /** Postgres channel id → channel name, for the channels listened to. */
  readonly #names = new Map<string, string>();
  #listener: Client | undefined;
  #connecting: Promise<Client> | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  /** Notifications are handed over one after another: a large one's fetch must not let later ones pass. */
  #delivery: Promise<void> = Promise.resolve();
  #lastPrune = 0;

  constructor(context: PostgresBusContext) {
    super({ backend: 'Postgres' });
    this.#context = context;
  }

  /** Backend process id of the listening connection, once connected (for tests and `pg_stat_activity`). */
  get listenerProcessId(): number | undefined {
    return (this.#listener as (Client & { processID?: number }) | undefined)?.processID;
  }

  protected async sendMessage(channel: string, payload: string): Promise<void> {
    const { pool, quoted } = this.#context;
    const id = this.#channelId(channel);
    if (Buffer.byteLength(payload, 'utf8') <= INLINE_NOTIFY_BYTES) {
      await pool.query('SELECT pg_notify($1, $2)', [id, `i${payload}`]);
      return;
    }
    await this.#context.ready();
    await pool.query(
      `WITH m AS (INSERT INTO ${quoted}.mcp_session_messages (channel, payload) VALUES ($2, $3) RETURNING id)
       SELECT pg_notify($1, 'r' || m.id) FROM m`,
      [id, channel, payload],
    );
    if (Date.now() - this.#lastPrune >= PRUNE_INTERVAL_MS) {
      this.#lastPrune = Date.now();
      await pool.query(
        `DELETE FROM ${quoted}.mcp_session_messages WHERE created_at < now() - $1 * interval '1 millisecond'`,
        [MESSAGE_RETENTION_MS],
      );
    }
  }

  protected async startListening(channel: string): Promise<void> {
    const id = this.#channelId(channel);
    const client = await this.#connection();
    this.#names.set(id, channel);
    try {
      await client.query(`LISTEN "${id}"`);
    } catch (error) {
      this.#names.delete(id);
      throw error;
    }
  }

  protected async stopListening(channel: string): Promise<void> {
    const id = this.#channelId(channel);
    this.#names.delete(id);
    // A failed UNLISTEN means a broken connection, which is replaced without this channel; until then
    // its notifications find no name and are dropped.
    await this.#listener?.query(`UNLISTEN "${id}"`).catch(() => undefined);
  }

  protected async releaseBus(): Promise<void> {
    clearTimeout(this.#reconnectTimer);
    const connecting = this.#connecting;
    this.#connecting = undefined;
    const client = this.#listener ?? (await connecting?.catch(() => undefined));
    this.#listener = undefined;
    await client?.end().catch(() => undefined);
  }

  #channelId(channel: string): string {
    const digest = createHash('sha256')
      .update(`${this.#context.schema}\n${channel}`, 'utf8')
      .digest('hex');
    return `m${digest.slice(0, 62)}`;
  }

  /** The listening connection, opened on first use; concurrent callers share one attempt. */
  #connection(): Promise<Client> {
    if (this.#listener) return Promise.resolve(this.#listener);
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(): Promise<Client> {
    const client = new pg.Client({
      ...(this.#context.pool as Pool & { options: pg.ClientConfig }).options,
      application_name: 'mcp-session:listener',
    });
    // A dropped connection emits 'error' and then 'end'; the bus reconnects on 'end'.
    client.on('error', () => undefined);
    client.on('notification', (notification) => this.#onNotification(client, notification));
    client.on('end', () => this.#onEnd(client));
    try {
      await client.connect();
      // Channels subscribed while the connection was down, or before it dropped.
      for (const [id] of this.#names) await client.query(`LISTEN "${id}"`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      throw new Error('the store was closed while the listening connection opened');
    }
    this.#listener = client;
    return client;
  }

  #onEnd(client: Client): void {
    if (this.#listener !== client) return;
    this.#listener = undefined;
    if (!this.closed && this.#names.size > 0) this.#reconnect(1);
  }

  #reconnect(attempt: number): void {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => {
      if (this.closed || this.#listener || this.#names.size === 0) return;
      this.#connection().catch(() => this.#reconnect(attempt + 1));
    }, reconnectDelay(attempt));
    // A store whose database is gone must not keep the process alive just to retry.
    this.#reconnectTimer.unref();
  }

  #onNotification(client: Client, notification: Notification): void {
    const channel = this.#names.get(notification.channel);
    const body = notification.payload ?? '';
    if (channel === undefined) return;
    if (body.startsWith('i')) {
      const payload = body.slice(1);
      this.#delivery = this.#delivery.then(() => this.deliver(channel, payload));
      return;
    }
    if (!body.startsWith('r')) return;
    const rowId = body.slice(1);
    this.#delivery = this.#delivery.then(async () => {
      const row = await client
        .query<{ channel: string; payload: string }>(
          `SELECT channel, payload FROM ${this.#context.quoted}.mcp_session_messages WHERE id = $1`,
          [rowId],
        )
        .then((result) => result.rows[0])
        // A connection that drops mid-fetch loses the message, as it loses any notified meanwhile.
        .catch(() => undefined);
      if (row && row.channel === channel) this.deliver(channel, row.payload);
    });
  }
}
