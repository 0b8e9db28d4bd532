/**
 * The message bus kit: argument rules of `MessageBus` written once, and `BaseMessageBus`, which does the
 * bookkeeping every engine needs (closed checks, one engine subscription per channel however many
 * handlers share it, subscribe resolving only once live, error wrapping) so an adapter writes only the
 * engine calls.
 */
import {
  InvalidValueError,
  isSessionError,
  PayloadTooLargeError,
  StoreClosedError,
} from './errors.js';
import type { MessageBus, MessageHandler, Unsubscribe } from './store.js';
import { toStoreError } from './store-kit.js';

/** Largest payload a bus accepts unless its store is configured otherwise: 1 MiB of UTF-8. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_576;

/** Longest channel name, in characters. */
export const MAX_CHANNEL_LENGTH = 256;

const CHANNEL = /^[\x20-\x7e]{1,256}$/;

/** Checks a channel name: 1–256 characters from space to `~` (0x20–0x7E), compared exactly. */
export function assertValidChannel(channel: unknown): asserts channel is string {
  if (typeof channel !== 'string' || !CHANNEL.test(channel)) {
    throw new InvalidValueError(
      `A channel must be 1-${MAX_CHANNEL_LENGTH} characters from space to "~" (ASCII 0x20-0x7E), got ${
        typeof channel === 'string' ? `a string of ${channel.length} characters` : typeof channel
      }`,
    );
  }
}

/**
 * Checks the arguments of `publish`: a valid channel and a well-formed string payload without NUL of at
 * most `maxMessageBytes` UTF-8 bytes. The payload is never echoed in the error (it may be secret).
 */
export function checkPublishArgs(
  channel: unknown,
  payload: unknown,
  maxMessageBytes: number,
): void {
  assertValidChannel(channel);
  if (typeof payload !== 'string') {
    throw new InvalidValueError(
      `A message payload must be a string (serialize it first), got ${typeof payload}`,
    );
  }
  if (!payload.isWellFormed() || payload.includes('\0')) {
    throw new InvalidValueError(
      'A message payload must be well-formed text without NUL characters or lone surrogates: encode binary data (base64)',
    );
  }
  // Every UTF-16 code unit is at most 3 UTF-8 bytes, so most payloads skip the byte count.
  if (payload.length * 3 > maxMessageBytes) {
    const bytes = Buffer.byteLength(payload, 'utf8');
    if (bytes > maxMessageBytes) throw new PayloadTooLargeError('message', maxMessageBytes, bytes);
  }
}

/** Checks the arguments of `subscribe`: a valid channel and a function. */
export function checkSubscribeArgs(channel: unknown, onMessage: unknown): void {
  assertValidChannel(channel);
  if (typeof onMessage !== 'function') {
    throw new InvalidValueError(
      `subscribe needs a handler function (payload) => void, got ${typeof onMessage}`,
    );
  }
}

/** Options of `BaseMessageBus`. */
export interface MessageBusOptions {
  /** The backend's name in error messages, e.g. `"Redis"`. */
  backend: string;
  /** Largest payload, UTF-8 bytes, a positive integer. Default `DEFAULT_MAX_MESSAGE_BYTES`. */
  maxMessageBytes?: number;
}

interface ChannelState {
  readonly handlers: Set<MessageHandler>;
  /** Whether the engine subscription is in place. */
  listening: boolean;
  /** Engine calls of this channel run one after another, so subscribe and unsubscribe never cross. */
  queue: Promise<void>;
}

/**
 * The base of a store's message bus. An adapter implements four engine calls; the base does the rest:
 *
 * - after `close()`, every call fails with `StoreClosedError` and no handler is called again;
 * - arguments are checked before any I/O (`checkPublishArgs`, `checkSubscribeArgs`);
 * - one engine subscription per channel (`startListening` on the first handler, `stopListening` after
 *   the last), calls for one channel serialized, so a `subscribe` resolves only once the engine listens;
 * - driver failures become `StoreUnavailableError` naming the backend and the call.
 *
 * The adapter calls `deliver(channel, payload)` for each message the engine hands it, in engine order,
 * and `listeningChannels()` to renew its subscriptions after a reconnect.
 */
export abstract class BaseMessageBus implements MessageBus {
  readonly maxMessageBytes: number;
  readonly #backend: string;
  readonly #channels = new Map<string, ChannelState>();
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: MessageBusOptions) {
    this.#backend = options.backend;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isSafeInteger(this.maxMessageBytes) || this.maxMessageBytes < 1) {
      throw new InvalidValueError(
        `maxMessageBytes must be a positive whole number of bytes, got ${String(options.maxMessageBytes)}`,
      );
    }
  }

  /** Whether `close()` was called. */
  protected get closed(): boolean {
    return this.#closed;
  }

  async publish(channel: string, payload: string): Promise<void> {
    this.#assertOpen();
    checkPublishArgs(channel, payload, this.maxMessageBytes);
    try {
      await this.sendMessage(channel, payload);
    } catch (error) {
      throw await this.#failure(error, 'publish');
    }
  }

  async subscribe(channel: string, onMessage: MessageHandler): Promise<Unsubscribe> {
    this.#assertOpen();
    checkSubscribeArgs(channel, onMessage);
    // A wrapper per subscription: the same function subscribed twice is two subscriptions.
    const handler: MessageHandler = (payload) => onMessage(payload);
    let state = this.#channels.get(channel);
    if (!state) {
      state = { handlers: new Set(), listening: false, queue: Promise.resolve() };
      this.#channels.set(channel, state);
    }
    state.handlers.add(handler);
    try {
      await this.#serially(state, async () => {
        if (!state.listening && state.handlers.has(handler) && !this.#closed) {
          await this.startListening(channel);
          state.listening = true;
        }
      });
      this.#assertOpen();
    } catch (error) {
      state.handlers.delete(handler);
      this.#forgetIfUnused(channel, state);
      throw await this.#failure(error, 'subscribe');
    }
    let ended: Promise<void> | undefined;
    return () => {
      ended ??= this.#unsubscribe(channel, state, handler);
      return ended;
    };
  }

  /**
   * Stops delivery, then releases the engine (`releaseBus`) once. The store's `release` calls it.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closed = true;
    for (const state of this.#channels.values()) state.handlers.clear();
    this.#channels.clear();
    this.#closing ??= (async () => {
      try {
        await this.releaseBus();
      } catch (error) {
        throw toStoreError(error, `Closing the ${this.#backend} message bus`);
      }
    })();
    return this.#closing;
  }

  /**
   * Hands one message from the engine to the handlers of its channel that are subscribed right now.
   * Call it in the order the engine delivered the messages.
   */
  protected deliver(channel: string, payload: string): void {
    const state = this.#channels.get(channel);
    if (!state || this.#closed) return;
    for (const handler of [...state.handlers]) {
      // An unsubscribe by an earlier handler of this same message takes effect at once.
      if (!state.handlers.has(handler)) continue;
      try {
        handler(payload);
      } catch (error) {
        reportHandlerError(error);
      }
    }
  }

  /** Whether a message of this channel has a handler here (so a poller can skip what nobody wants). */
  protected isListening(channel: string): boolean {
    return this.#channels.get(channel)?.listening === true;
  }

  /** The channels the engine listens to now, to renew after a reconnect. */
  protected listeningChannels(): string[] {
    return [...this.#channels].filter(([, state]) => state.listening).map(([channel]) => channel);
  }

  /** Sends one checked message; resolves once the engine accepted it. */
  protected abstract sendMessage(channel: string, payload: string): Promise<void>;

  /** Makes the engine deliver `channel` to this process; resolves once it does. */
  protected abstract startListening(channel: string): Promise<void>;

  /** Makes the engine stop delivering `channel` to this process. */
  protected abstract stopListening(channel: string): Promise<void>;

  /** Releases the bus's connections and timers. Called once, from `close()`. */
  protected abstract releaseBus(): Promise<void>;

  async #unsubscribe(channel: string, state: ChannelState, handler: MessageHandler): Promise<void> {
    state.handlers.delete(handler);
    if (this.#closed) return;
    try {
      await this.#serially(state, async () => {
        if (state.listening && state.handlers.size === 0 && !this.#closed) {
          state.listening = false;
          await this.stopListening(channel);
        }
      });
    } catch (error) {
      throw await this.#failure(error, 'unsubscribe');
    } finally {
      this.#forgetIfUnused(channel, state);
    }
  }

  #forgetIfUnused(channel: string, state: ChannelState): void {
    if (state.handlers.size === 0 && !state.listening && this.#channels.get(channel) === state) {
      this.#channels.delete(channel);
    }
  }

  #serially(state: ChannelState, work: () => Promise<void>): Promise<void> {
    const run = state.queue.then(work);
    state.queue = run.catch(() => undefined);
    return run;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  async #failure(error: unknown, call: string): Promise<unknown> {
    if (isSessionError(error)) return error;
    // One turn later, as the store's primitives do, so a tight retry loop cannot starve a reconnect.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.#closed) return new StoreClosedError();
    return toStoreError(error, `${this.#backend} message ${call}`);
  }
}

function reportHandlerError(error: unknown): void {
  const reason = error instanceof Error ? error.message : String(error);
  process.emitWarning(`A message handler threw: ${reason}`, {
    code: 'MCP_SESSION_MESSAGE_HANDLER',
  });
}
