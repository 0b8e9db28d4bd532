import { BaseMessageBus } from '@mcp-session/core/adapter';
import type { Cluster, Redis } from 'ioredis';

type RedisClient = Redis | Cluster;

/** What the bus needs of its store. */
export interface RedisBusContext {
  /** The store's client; the bus publishes on it and duplicates its settings for the subscriber. */
  client: RedisClient;
  /** Start of every channel name on the server: `<prefix>:m:<channel>`. */
  prefix: string;
  /** Sends one command on the store's client the way the store does (waits for a connection). */
  send<T>(command: () => Promise<T>): Promise<T>;
}

/**
 * Redis pub/sub. Channels live on the server as `<prefix>:m:<channel>`, so stores with different
 * prefixes never hear each other (pub/sub ignores the database number, so the prefix is what separates
 * them). Publishing uses the store's client; subscribing a dedicated connection, a `duplicate()` of it
 * created on the first `subscribe`, which ioredis resubscribes after a reconnect (messages published
 * while it is disconnected are lost: the bus is live only). On a Cluster, sharded pub/sub (SPUBLISH,
 * SSUBSCRIBE): a channel lives on the shard of its slot, so messages do not cross the whole cluster.
 */
export class RedisMessageBus extends BaseMessageBus {
  readonly #context: RedisBusContext;
  readonly #channelPrefix: string;
  #subscriber: RedisClient | undefined;

  constructor(context: RedisBusContext) {
    super({ backend: 'Redis' });
    this.#context = context;
    this.#channelPrefix = `${context.prefix}:m:`;
  }

  /** The dedicated subscriber connection, once the first `subscribe` made it (for tests and inspection). */
  get subscriber(): RedisClient | undefined {
    return this.#subscriber;
  }

  protected async sendMessage(channel: string, payload: string): Promise<void> {
    const { client } = this.#context;
    const name = this.#channelPrefix + channel;
    await this.#context.send(() =>
      client.isCluster ? client.spublish(name, payload) : client.publish(name, payload),
    );
  }

  protected async startListening(channel: string): Promise<void> {
    const subscriber = this.#subscriberConnection();
    const name = this.#channelPrefix + channel;
    if (subscriber.isCluster) await subscriber.ssubscribe(name);
    else await subscriber.subscribe(name);
  }

  protected async stopListening(channel: string): Promise<void> {
    const subscriber = this.#subscriber;
    if (!subscriber) return;
    const name = this.#channelPrefix + channel;
    if (subscriber.isCluster) await subscriber.sunsubscribe(name);
    else await subscriber.unsubscribe(name);
  }

  protected async releaseBus(): Promise<void> {
    const subscriber = this.#subscriber;
    if (!subscriber || subscriber.status === 'end') return;
    const ended = new Promise<void>((resolve) => subscriber.once('end', () => resolve()));
    subscriber.disconnect();
    // Between reconnect attempts there is no socket left to close, and ioredis may never emit 'end'.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise((resolve) => (timer = setTimeout(resolve, 1_000)))]);
    clearTimeout(timer);
  }

  #subscriberConnection(): RedisClient {
    if (this.#subscriber) return this.#subscriber;
    const { client } = this.#context;
    const onMessage = (name: string, payload: string) => {
      if (name.startsWith(this.#channelPrefix)) {
        this.deliver(name.slice(this.#channelPrefix.length), payload);
      }
    };
    let subscriber: RedisClient;
    if (client.isCluster) {
      // One subscriber connection per shard, each following its slots as the topology changes.
      subscriber = (client as Cluster).duplicate([], {
        shardedSubscribers: true,
        enableOfflineQueue: true,
      });
      subscriber.on('smessage', onMessage);
    } else {
      subscriber = (client as Redis).duplicate({
        // Queue the SUBSCRIBE until the connection is up; it still fails at once if it drops
        // (maxRetriesPerRequest), so a subscribe with Redis down fails instead of hanging.
        enableOfflineQueue: true,
        autoResubscribe: true,
        lazyConnect: false,
        connectionName: `${(client as Redis).options.connectionName ?? 'mcp-session'}:subscriber`,
      });
      subscriber.on('message', onMessage);
    }
    // Failures reach callers through the commands they break; without a listener ioredis would print
    // every failed reconnect attempt.
    subscriber.on('error', () => undefined);
    this.#subscriber = subscriber;
    return subscriber;
  }
}
