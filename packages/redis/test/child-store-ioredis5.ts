import { Redis } from 'ioredis5';
import { type RedisClient, RedisSessionStore } from '../src/index.js';

/** A store on an ioredis 5 client that it closes itself, as the application owning the client would. */
class Ioredis5Store extends RedisSessionStore {
  override async close(): Promise<void> {
    await super.close();
    await this.client.quit().catch(() => undefined);
  }
}

/** Opened in child processes of the ioredis 5 conformance run: the location is a store URL. */
export function open(location: string): RedisSessionStore {
  const url = new URL(location);
  const prefix = url.searchParams.get('prefix') ?? undefined;
  url.search = '';
  const client = new Redis(url.toString());
  return new Ioredis5Store({ client: client as unknown as RedisClient, prefix });
}
