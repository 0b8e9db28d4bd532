import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshDirectory } from '@mcp-session/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MESSAGE_RETENTION_MS, FileSessionStore, storeFromUrl } from '../src/index.js';

const directory = freshDirectory('file-messaging');
afterAll(directory.remove);
let stores = 0;
const freshStorePath = () => join(directory.path, `store-${++stores}`);

/** Waits until `done()` holds; a bound on waiting, not a timing assertion. */
async function eventually(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('file store message bus', () => {
  it('a publish deletes message files older than the retention, so the directory does not grow', async () => {
    const path = freshStorePath();
    const store = await FileSessionStore.open(path, { fsync: false });
    try {
      await store.messages.publish('first', 'makes the directory');
      const window = Math.floor((Date.now() - DEFAULT_MESSAGE_RETENTION_MS) / 10_000) - 1;
      const old = `${String(window).padStart(16, '0')}.jsonl`;
      writeFileSync(join(path, 'messages', old), '{"c":"old","p":"stale"}\n');
      // A second store prunes on its first publish (the first one pruned a moment ago).
      const other = await FileSessionStore.open(path, { fsync: false });
      await other.messages.publish('new', 'fresh');
      await other.close();
      expect(readdirSync(join(path, 'messages'))).not.toContain(old);
    } finally {
      await store.close();
    }
  });

  it('two stores on one directory (as two processes would) talk through the files, with the poll interval of the URL', async () => {
    const path = freshStorePath();
    const listener = await storeFromUrl(`file:${path}?messagePollIntervalMs=5&fsync=false`);
    const publisher = await FileSessionStore.open(path, { fsync: false });
    try {
      const received: string[] = [];
      await listener.messages.subscribe('room', (payload) => received.push(payload));
      for (let i = 0; i < 20; i++) await publisher.messages.publish('room', `m${i}\n"${i}"`);
      await eventually(() => received.length === 20, 'every message');
      expect(received).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}\n"${i}"`));
    } finally {
      await listener.close();
      await publisher.close();
    }
  });

  it('skips a torn line and goes on with the next complete one', async () => {
    const path = freshStorePath();
    const store = await FileSessionStore.open(path, { fsync: false, messagePollIntervalMs: 5 });
    try {
      const received: string[] = [];
      await store.messages.subscribe('room', (payload) => received.push(payload));
      const window = Math.floor(Date.now() / 10_000);
      const file = join(path, 'messages', `${String(window).padStart(16, '0')}.jsonl`);
      writeFileSync(file, '{"c":"room","p":"tor\n', { flag: 'a' });
      await store.messages.publish('room', 'whole');
      await eventually(() => received.length > 0, 'the complete line');
      expect(received).toEqual(['whole']);
    } finally {
      await store.close();
    }
  });

  it('refuses bad message options', async () => {
    for (const bad of [0, -1, 1.5]) {
      await expect(
        FileSessionStore.open(freshStorePath(), { messagePollIntervalMs: bad }),
      ).rejects.toThrow(expect.objectContaining({ code: 'INVALID_VALUE' }));
      await expect(
        FileSessionStore.open(freshStorePath(), { messageRetentionMs: bad }),
      ).rejects.toThrow(/messageRetentionMs must be a positive integer/);
    }
  });
});
