import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { MessageBus } from '@mcp-session/core';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/**
 * A session's route between instances over the store's message bus (`store.messages`): what one instance
 * publishes for a session reaches every instance holding that session live, and only those.
 *
 * - **Channel**: `mcp-session/route/` + base64url(SHA-256 of the session's storage id), so the bus (Redis,
 *   Postgres' notifications, SQLite's and the file store's message tables) never sees a session id — not
 *   even when the manager stores ids in clear (`hashIds: false`).
 * - **Sealed payloads**: AES-256-GCM with a key HKDF-derived from the raw session id (its own salt, so it
 *   never equals the event store's key), the channel bound as additional data. The bus holds no message,
 *   owner or event id in clear, and no process without the session id can forge or read one.
 * - **Envelopes** carry the owner the publisher served the message for; a receiver drops one whose owner
 *   is not its live session's, so nothing crosses owners even if two owners' sessions shared a channel.
 */

/** What travels on a session's channel, sealed. */
export type RouteEnvelope =
  /** A client's response to a server→client request that the receiving instance did not send. */
  | { kind: 'response'; owner: string | null; origin: string; message: JSONRPCMessage }
  /** A client's `notifications/cancelled` for a request the receiving instance is not running. */
  | { kind: 'cancelled'; owner: string | null; origin: string; message: JSONRPCMessage }
  /**
   * A message the session sent on its standalone (GET) stream, with the event id the event store gave it
   * (absent without an event store), for whichever instance holds that stream.
   */
  | {
      kind: 'standalone';
      owner: string | null;
      origin: string;
      message: JSONRPCMessage;
      eventId?: string;
    };

const KINDS = new Set(['response', 'cancelled', 'standalone']);
const HKDF_SALT = 'mcp-session/routing/sealed-envelope';
const HKDF_INFO = 'mcp-session route seal v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const CIPHER = 'aes-256-gcm';
const CHANNEL_PREFIX = 'mcp-session/route/';

/** The bus channel of a session: derived from its storage id, never the session id itself. */
export function routeChannel(storageId: string): string {
  return (
    CHANNEL_PREFIX +
    createHash('sha256').update(`mcp-session/route\0${storageId}`, 'utf8').digest('base64url')
  );
}

/** Seals and opens the envelopes of one session's channel. */
export class RouteSeal {
  readonly #key: Buffer;
  readonly #additionalData: Buffer;

  constructor(sessionId: string, channel: string) {
    this.#key = Buffer.from(hkdfSync('sha256', sessionId, HKDF_SALT, HKDF_INFO, 32));
    this.#additionalData = Buffer.from(`mcp-session/route-envelope\0v1\0${channel}`, 'utf8');
  }

  seal(envelope: RouteEnvelope): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.#additionalData);
    const plaintext = Buffer.from(JSON.stringify(envelope), 'utf8');
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url');
  }

  /** The envelope, or null for a payload this session's key did not seal (or that is malformed). */
  open(payload: string): RouteEnvelope | null {
    const sealed = Buffer.from(payload, 'base64url');
    if (sealed.length < IV_BYTES + TAG_BYTES) return null;
    try {
      const decipher = createDecipheriv(CIPHER, this.#key, sealed.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(this.#additionalData);
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plaintext = Buffer.concat([
        decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
      const envelope = JSON.parse(plaintext.toString('utf8')) as RouteEnvelope;
      const valid =
        typeof envelope === 'object' &&
        envelope !== null &&
        KINDS.has(envelope.kind) &&
        typeof envelope.origin === 'string' &&
        (envelope.owner === null || typeof envelope.owner === 'string') &&
        typeof envelope.message === 'object' &&
        envelope.message !== null;
      return valid ? envelope : null;
    } catch {
      return null;
    }
  }
}

/** What a session's route calls with the envelopes other instances published for it. */
export type RouteReceiver = (envelope: RouteEnvelope) => void | Promise<void>;

/**
 * One live session's subscription to its channel. `publish` seals and sends; envelopes published by this
 * route itself (`origin`) or for another owner never reach `receive`.
 */
export class SessionRoute {
  /** Random per route: lets a route recognise (and skip) what it published itself. */
  readonly origin = randomBytes(12).toString('base64url');
  readonly #bus: MessageBus;
  readonly #channel: string;
  readonly #seal: RouteSeal;
  readonly #owner: string | null;
  #unsubscribe: (() => Promise<void>) | null = null;
  #closed = false;

  private constructor(bus: MessageBus, sessionId: string, storageId: string, owner: string | null) {
    this.#bus = bus;
    this.#channel = routeChannel(storageId);
    this.#seal = new RouteSeal(sessionId, this.#channel);
    this.#owner = owner;
  }

  /**
   * Subscribes the session's channel; resolves once the subscription is live, so whatever is published
   * from then on reaches `receive`.
   */
  static async open(options: {
    bus: MessageBus;
    sessionId: string;
    storageId: string;
    owner: string | null;
    receive: RouteReceiver;
    report: (error: unknown) => void;
  }): Promise<SessionRoute> {
    const route = new SessionRoute(
      options.bus,
      options.sessionId,
      options.storageId,
      options.owner,
    );
    route.#unsubscribe = await options.bus.subscribe(route.#channel, (payload) => {
      const envelope = route.#seal.open(payload);
      if (!envelope || envelope.origin === route.origin || envelope.owner !== route.#owner) return;
      Promise.resolve()
        .then(() => options.receive(envelope))
        .catch(options.report);
    });
    return route;
  }

  /** Seals and publishes one envelope of this route's owner. Rejects with the bus's error. */
  async publish(
    envelope:
      | Omit<Extract<RouteEnvelope, { kind: 'response' | 'cancelled' }>, 'owner' | 'origin'>
      | Omit<Extract<RouteEnvelope, { kind: 'standalone' }>, 'owner' | 'origin'>,
  ): Promise<void> {
    if (this.#closed) return;
    await this.#bus.publish(
      this.#channel,
      this.#seal.seal({ ...envelope, owner: this.#owner, origin: this.origin } as RouteEnvelope),
    );
  }

  /** Ends the subscription. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#unsubscribe?.();
  }
}
