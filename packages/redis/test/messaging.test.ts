import { isSessionError } from '@mcp-session/core';
import { freshRedisStore, REDIS_URL } from '@mcp-session/test-utils/redis';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../src/index.js';

const admin = new Redis(REDIS_URL);
afterAll(() => admin.quit());

/** Waits until `done()` holds; a bound on waiting, not a timing assertion. */
async function eventually(done: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function subscriberIds(): Promise<string[]> {
  return String(await admin.client('LIST'))
    .split('\n')
    .filter((line) => line.includes('name=mcp-session:subscriber'))
    .map((line) => /id=(\d+)/.exec(line)?.[1] ?? '');
}

describe('redis message bus', () => {
  it('opens no subscriber connection until the first subscribe', async () => {
    const store = new RedisSessionStore({ url: freshRedisStore().url });
    try {
      await store.messages.publish('nobody', 'listens');
      expect(store.messages.subscriber).toBeUndefined();
      await store.messages.subscribe('someone', () => undefined);
      expect(store.messages.subscriber?.status).toBe('ready');
    } finally {
      await store.close();
    }
    expect(store.messages.subscriber?.status).toBe('end');
  });

  it('resubscribes after its subscriber connection is killed (CLIENT KILL): delivery resumes', async () => {
    const { url } = freshRedisStore();
    const listener = new RedisSessionStore({ url });
    const publisher = new RedisSessionStore({ url });
    try {
      const received: string[] = [];
      const before = await subscriberIds();
      await listener.messages.subscribe('room', (payload) => received.push(payload));
      const subscriber = listener.messages.subscriber as Redis;
      // A subscribed connection cannot ask for its own id: it is the subscriber that was not there before.
      const ours = (await subscriberIds()).filter((id) => !before.includes(id));
      expect(ours).toHaveLength(1);
      await admin.client('KILL', 'ID', ours[0] as string);
      await eventually(() => subscriber.status !== 'ready', 'the subscriber to notice the kill');
      // Messages published while it was away are lost (live only); once it is back, they arrive.
      let sent = 0;
      await eventually(async () => {
        await publisher.messages.publish('room', `after kill ${sent++}`);
        return received.length > 0;
      }, 'delivery after the reconnect');
      const first = Number(received[0]?.replace('after kill ', ''));
      await publisher.messages.publish('room', 'in order');
      await eventually(() => received.includes('in order'), 'the next message');
      expect(received.at(-1)).toBe('in order');
      expect(received.slice(0, -1)).toEqual(
        Array.from({ length: sent - first }, (_, i) => `after kill ${first + i}`),
      );
    } finally {
      await listener.close();
      await publisher.close();
    }
  });

  it('stores on different prefixes of one server never hear each other', async () => {
    const first = new RedisSessionStore({ url: freshRedisStore().url });
    const second = new RedisSessionStore({ url: freshRedisStore().url });
    try {
      const heard: string[] = [];
      await first.messages.subscribe('shared-name', (payload) => heard.push(`first ${payload}`));
      await second.messages.subscribe('shared-name', (payload) => heard.push(`second ${payload}`));
      await second.messages.publish('shared-name', 'hello');
      await first.messages.publish('shared-name', 'end');
      await eventually(() => heard.length >= 2, 'both messages');
      expect(heard.sort()).toEqual(['first end', 'second hello']);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('a subscribe with Redis unreachable fails with STORE_UNAVAILABLE and the store still closes', async () => {
    const store = new RedisSessionStore({
      url: 'redis://127.0.0.1:1/0?connectTimeoutMs=200&commandTimeoutMs=300',
    });
    const error = await store.messages.subscribe('room', () => undefined).catch((e: unknown) => e);
    expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
    const published = await store.messages.publish('room', 'x').catch((e: unknown) => e);
    expect(isSessionError(published, 'STORE_UNAVAILABLE')).toBe(true);
    await store.close();
  });
});
