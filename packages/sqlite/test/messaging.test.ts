import { freshSqliteFile } from '@mcp-session/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MESSAGE_RETENTION_MS, SqliteSessionStore, storeFromUrl } from '../src/index.js';

const file = freshSqliteFile('sqlite-messaging');
afterAll(file.remove);

/** Waits until `done()` holds; a bound on waiting, not a timing assertion. */
async function eventually(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('sqlite message bus', () => {
  it('a publish prunes messages older than the retention, so the table does not grow', async () => {
    const store = new SqliteSessionStore({ database: file.file });
    try {
      store.db
        .prepare('INSERT INTO messages (channel, payload, at) VALUES (?, ?, ?)')
        .run('old', 'stale', Date.now() - DEFAULT_MESSAGE_RETENTION_MS - 1_000);
      await store.messages.publish('new', 'fresh');
      expect(store.db.prepare('SELECT channel FROM messages').all()).toEqual([{ channel: 'new' }]);
    } finally {
      await store.close();
    }
  });

  it('two stores on one file (as two processes would) talk through the table, with the poll interval of the URL', async () => {
    const listener = storeFromUrl(`sqlite:${file.file}?messagePollIntervalMs=5`);
    const publisher = new SqliteSessionStore({ database: file.file });
    try {
      const received: string[] = [];
      await listener.messages.subscribe('room', (payload) => received.push(payload));
      for (let i = 0; i < 20; i++) await publisher.messages.publish('room', `m${i}`);
      await eventually(() => received.length === 20, 'every message');
      expect(received).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    } finally {
      await listener.close();
      await publisher.close();
    }
  });

  it('refuses bad message options before opening anything', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(
        () => new SqliteSessionStore({ database: file.file, messagePollIntervalMs: bad }),
      ).toThrow(expect.objectContaining({ code: 'INVALID_VALUE' }));
      expect(
        () => new SqliteSessionStore({ database: file.file, messageRetentionMs: bad }),
      ).toThrow(/messageRetentionMs must be a whole number of milliseconds/);
    }
    expect(() => storeFromUrl(`sqlite:${file.file}?messagePollIntervalMs=0`)).toThrow(
      expect.objectContaining({ code: 'INVALID_STORE_URL' }),
    );
  });
});
