import { randomBytes } from 'node:crypto';
import {
  createKeyring,
  ENCRYPTED_VALUE_PREFIX,
  hashSessionId,
  isEncryptedValue,
  type Keyring,
  type ReencryptProgress,
  reencryptStore,
  type SessionStore,
} from '@mcp-session/core';
import { expect } from 'vitest';
import type { CaseContext, ConformanceCase } from '../types.js';
import { expectCode, range } from './helpers.js';

/** Two generations of server keys: `before` encrypts with k1, `rotated` with k2 and still reads k1. */
function keyrings() {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  return {
    before: createKeyring({ current: 'suite-k1', keys: { 'suite-k1': k1 } }),
    /** An instance not yet rolled out: still encrypts with k1, already reads k2. */
    lagging: createKeyring({ current: 'suite-k1', keys: { 'suite-k1': k1, 'suite-k2': k2 } }),
    rotated: createKeyring({ current: 'suite-k2', keys: { 'suite-k1': k1, 'suite-k2': k2 } }),
    onlyNew: createKeyring({ current: 'suite-k2', keys: { 'suite-k2': k2 } }),
  };
}

const SECRET = 'sk-suite-secret-4c1f';
const OWNER = 'alice';
const as = { owner: OWNER };

/** What the store holds for a session, read through the primitives: the stored form, not the manager's. */
async function stored(store: SessionStore, storageId: string, now: number): Promise<string> {
  const record = await store.get(storageId, { now });
  const history = await store.read(storageId, 'history', { now });
  return JSON.stringify({ record, history });
}

/** Asserts that every context value and history entry of a session is in the encrypted form of `keyId`. */
async function expectEncrypted(t: CaseContext, storageId: string, keyId: string): Promise<void> {
  const now = t.clock.now();
  const record = await t.store.get(storageId, { now });
  expect(record).not.toBeNull();
  for (const [key, value] of Object.entries(record?.context ?? {})) {
    expect(isEncryptedValue(value), `context.${key} is stored encrypted`).toBe(true);
    expect(value as string).toMatch(new RegExp(`^${ENCRYPTED_VALUE_PREFIX}${keyId}:`));
  }
  for (const entry of await t.store.read(storageId, 'history', { now })) {
    expect(isEncryptedValue(entry.data), `history entry ${entry.seq} is stored encrypted`).toBe(
      true,
    );
    expect(entry.data as string).toMatch(new RegExp(`^${ENCRYPTED_VALUE_PREFIX}${keyId}:`));
  }
}

/** A session with a secret in context (two keys) and history (three messages), by `keyring`. */
async function conversation(t: CaseContext, keyring: Keyring) {
  const manager = t.manager({ encryption: keyring });
  const { id } = await manager.createSession({ ...as, context: { token: SECRET } });
  await manager.setContext(id, 'profile', { name: 'Alice', apiKey: SECRET }, as);
  for (const i of range(3)) {
    await manager.addMessage(id, { role: 'user', content: `${SECRET} #${i}` }, as);
  }
  return { manager, id, storageId: hashSessionId(id) };
}

export const encryptionCases: ConformanceCase[] = [
  {
    group: 'encryption',
    name: 'encrypted context round trip (create, set, patch, delete, replace, clear); the store holds no plaintext',
    async run(t) {
      const { rotated } = keyrings();
      const manager = t.manager({ encryption: rotated });
      const { id } = await manager.createSession({
        ...as,
        context: { token: SECRET, n: 7 },
        metadata: { client: 'visible' },
      });
      const storageId = hashSessionId(id);
      expect(await manager.getContext(id, as)).toEqual({ token: SECRET, n: 7 });
      await manager.setContext(id, 'list', [SECRET, { deep: SECRET }], as);
      await manager.updateContext(id, { flag: true, none: null }, { ...as, remove: ['n'] });
      expect(await manager.getContext(id, as)).toEqual({
        token: SECRET,
        list: [SECRET, { deep: SECRET }],
        flag: true,
        none: null,
      });
      expect(await manager.getContext(id, 'list', as)).toEqual([SECRET, { deep: SECRET }]);
      const session = await manager.getSession(id, as);
      expect(session?.context.token).toBe(SECRET);
      expect((await manager.peekSession(id, as))?.context.token).toBe(SECRET);

      const now = t.clock.now();
      const raw = await t.store.get(storageId, { now });
      // Key names, metadata and owner stay visible (indexes and operators need them); values do not.
      expect(Object.keys(raw?.context ?? {}).sort()).toEqual(['flag', 'list', 'none', 'token']);
      expect(raw?.metadata).toEqual({ client: 'visible' });
      expect(raw?.owner).toBe(OWNER);
      await expectEncrypted(t, storageId, 'suite-k2');
      expect(await stored(t.store, storageId, now)).not.toContain(SECRET);

      const replaced = await manager.updateSession(id, { context: { only: SECRET } }, as);
      expect(replaced.context).toEqual({ only: SECRET });
      await expectEncrypted(t, storageId, 'suite-k2');
      expect(await stored(t.store, storageId, t.clock.now())).not.toContain(SECRET);
      expect((await manager.clearContext(id, as)).context).toEqual({});
      expect(await manager.getContext(id, as)).toEqual({});
    },
  },
  {
    group: 'encryption',
    name: 'encrypted history round trip (read, paging, summary); the store holds no plaintext',
    async run(t) {
      const { rotated } = keyrings();
      const { manager, id, storageId } = await conversation(t, rotated);
      const history = await manager.getHistory(id, as);
      expect(history.map((e) => [e.seq, e.data])).toEqual(
        range(3).map((i) => [i + 1, { role: 'user', content: `${SECRET} #${i}` }]),
      );
      expect((await manager.getHistory(id, { ...as, limit: 1 }))[0]?.data.content).toBe(
        `${SECRET} #2`,
      );
      expect((await manager.getHistory(id, { ...as, afterSeq: 2 }))[0]?.data.content).toBe(
        `${SECRET} #2`,
      );
      const summary = await manager.getConversationSummary(id, as);
      expect(summary.byRole).toEqual({ user: 3 });
      expect(summary.recent.at(-1)?.data.content).toBe(`${SECRET} #2`);
      const statistics = await manager.getSessionStatistics(id, as);
      expect(statistics.retainedMessages).toBe(3);
      await expectEncrypted(t, storageId, 'suite-k2');
      expect(await stored(t.store, storageId, t.clock.now())).not.toContain(SECRET);
    },
  },
  {
    group: 'encryption',
    name: 'rotation rollout: instances on {current k1, k2} and {current k2, k1} read each other',
    async run(t) {
      const { lagging, rotated } = keyrings();
      const old = t.manager({ encryption: lagging });
      const next = t.manager({ encryption: rotated });
      const { id } = await old.createSession({ ...as, context: { a: 'by-old' } });
      await old.addMessage(id, { role: 'user', content: 'by-old' }, as);
      await next.setContext(id, 'b', 'by-new', as);
      await next.addMessage(id, { role: 'assistant', content: 'by-new' }, as);
      for (const manager of [old, next]) {
        expect(await manager.getContext(id, as)).toEqual({ a: 'by-old', b: 'by-new' });
        expect((await manager.getHistory(id, as)).map((e) => e.data.content)).toEqual([
          'by-old',
          'by-new',
        ]);
      }
      const raw = await t.store.get(hashSessionId(id), { now: t.clock.now() });
      expect(raw?.context.a).toMatch(new RegExp(`^${ENCRYPTED_VALUE_PREFIX}suite-k1:`));
      expect(raw?.context.b).toMatch(new RegExp(`^${ENCRYPTED_VALUE_PREFIX}suite-k2:`));
    },
  },
  {
    group: 'encryption',
    name: 'reencryptStore moves every value to the current key; a keyring with only that key reads everything',
    async run(t) {
      const { before, rotated, onlyNew } = keyrings();
      const sessions = [];
      for (const _ of range(5)) sessions.push(await conversation(t, before));
      // A session in clear, from before encryption was enabled: the migration path.
      const plain = t.manager();
      const legacy = await plain.createSession({ ...as, context: { old: SECRET } });
      await plain.addMessage(legacy.id, { role: 'user', content: SECRET }, as);
      expect(await t.manager({ encryption: rotated }).getContext(legacy.id, as)).toEqual({
        old: SECRET,
      });

      const seen: ReencryptProgress[] = [];
      const result = await reencryptStore(t.store, rotated, {
        batchSize: 2,
        clock: t.clock,
        onProgress: (p) => seen.push(p),
      });
      expect(result).toMatchObject({ done: 6, total: 6, contextValues: 11, historyEntries: 16 });
      expect(seen.map((p) => p.done)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(seen.at(-1)?.cursor).toBeNull();

      const reader = t.manager({ encryption: onlyNew });
      for (const { id, storageId } of sessions) {
        expect(await reader.getContext(id, as)).toEqual({
          token: SECRET,
          profile: { name: 'Alice', apiKey: SECRET },
        });
        expect((await reader.getHistory(id, as)).map((e) => e.data.content)).toEqual(
          range(3).map((i) => `${SECRET} #${i}`),
        );
        await expectEncrypted(t, storageId, 'suite-k2');
      }
      expect(await reader.getContext(legacy.id, as)).toEqual({ old: SECRET });
      expect((await reader.getHistory(legacy.id, as))[0]?.data.content).toBe(SECRET);
      await expectEncrypted(t, hashSessionId(legacy.id), 'suite-k2');
      const everything = JSON.stringify(await t.store.list({ now: t.clock.now(), limit: 100 }));
      expect(everything).not.toContain(SECRET);
      expect(everything).not.toContain(`${ENCRYPTED_VALUE_PREFIX}suite-k1:`);

      // Idempotent: a second run rewrites nothing.
      expect(await reencryptStore(t.store, rotated, { clock: t.clock })).toMatchObject({
        done: 6,
        contextValues: 0,
        historyEntries: 0,
      });
    },
  },
  {
    group: 'encryption',
    name: 'reencryptStore stopped by its signal resumes from progress.cursor and finishes the job',
    async run(t) {
      const { before, rotated, onlyNew } = keyrings();
      const sessions = [];
      for (const _ of range(5)) sessions.push(await conversation(t, before));
      const controller = new AbortController();
      const stopped = await reencryptStore(t.store, rotated, {
        batchSize: 2,
        clock: t.clock,
        signal: controller.signal,
        onProgress: ({ done }) => {
          if (done === 3) controller.abort();
        },
      });
      expect(stopped).toMatchObject({ complete: false, done: 3, total: 5 });
      const resumed = await reencryptStore(t.store, rotated, {
        batchSize: 2,
        clock: t.clock,
        cursor: stopped.cursor,
      });
      expect(resumed.complete).toBe(true);
      // The page in flight at the stop is looked at again; nothing is rewritten twice.
      expect(stopped.contextValues + resumed.contextValues).toBe(10);
      expect(stopped.historyEntries + resumed.historyEntries).toBe(15);
      const reader = t.manager({ encryption: onlyNew });
      for (const { id, storageId } of sessions) {
        expect((await reader.getContext(id, as)).token).toBe(SECRET);
        await expectEncrypted(t, storageId, 'suite-k2');
      }
    },
  },
  {
    group: 'encryption',
    name: 'reencryptStore alongside live writes loses none of them',
    async run(t) {
      const { lagging, rotated, onlyNew } = keyrings();
      const { id } = await conversation(t, lagging);
      const live = t.manager({ encryption: rotated });
      const writes = range(10).map((i) => live.setContext(id, `live${i}`, i, as));
      const appends = range(5).map((i) => live.addMessage(id, { role: 'tool', content: i }, as));
      await Promise.all([
        ...writes,
        ...appends,
        reencryptStore(t.store, rotated, { clock: t.clock }),
      ]);
      // Whatever the interleaving, a second pass finishes what the first raced with.
      await reencryptStore(t.store, rotated, { clock: t.clock });
      const reader = t.manager({ encryption: onlyNew });
      const context = await reader.getContext(id, as);
      for (const i of range(10)) expect(context[`live${i}`]).toBe(i);
      expect(context.token).toBe(SECRET);
      expect(await reader.getHistory(id, as)).toHaveLength(8);
      await expectEncrypted(t, hashSessionId(id), 'suite-k2');
    },
  },
  {
    group: 'encryption',
    name: 'a tampered value, or one copied into another session or context key, is DECRYPTION_FAILED',
    async run(t) {
      const { rotated } = keyrings();
      const manager = t.manager({ encryption: rotated });
      const a = await manager.createSession({ ...as, context: { token: SECRET, other: 1 } });
      const b = await manager.createSession({ ...as, context: { token: 'b' } });
      await manager.addMessage(a.id, { role: 'user', content: SECRET }, as);
      await manager.addMessage(b.id, { role: 'user', content: 'b' }, as);
      const now = t.clock.now();
      const storedA = await t.store.get(hashSessionId(a.id), { now });
      const copied = storedA?.context.token;
      const [entryA] = await t.store.read(hashSessionId(a.id), 'history', { now });

      // Copied into another session.
      await t.store.update(hashSessionId(b.id), { contextSet: { token: copied ?? null } }, { now });
      const copy = await expectCode(manager.getContext(b.id, as), 'DECRYPTION_FAILED');
      expect(copy).toMatchObject({ reason: 'tampered', keyId: 'suite-k2', field: 'context.token' });
      expect(copy.message).not.toContain(SECRET);
      await expectCode(manager.getSession(b.id, as), 'DECRYPTION_FAILED');
      // Copied into another key of the same session.
      await t.store.update(hashSessionId(a.id), { contextSet: { other: copied ?? null } }, { now });
      await expectCode(manager.getContext(a.id, 'other', as), 'DECRYPTION_FAILED');
      // A history entry copied into another session's history.
      await t.store.replaceEntries(
        hashSessionId(b.id),
        'history',
        [{ seq: 1, value: entryA?.data ?? null }],
        { now },
      );
      await expectCode(manager.getHistory(b.id, as), 'DECRYPTION_FAILED');
      // Altered: one character of the ciphertext.
      const text = String(copied);
      const altered = `${text.slice(0, -3)}${text.at(-3) === 'A' ? 'B' : 'A'}${text.slice(-2)}`;
      await t.store.update(hashSessionId(a.id), { contextSet: { token: altered } }, { now });
      await expectCode(manager.getContext(a.id, 'token', as), 'DECRYPTION_FAILED');
    },
  },
  {
    group: 'encryption',
    name: 'a key the keyring lacks, or a manager without a keyring, is DECRYPTION_FAILED naming the key id',
    async run(t) {
      const { before, onlyNew } = keyrings();
      const { id } = await conversation(t, before);
      const missing = await expectCode(
        t.manager({ encryption: onlyNew }).getContext(id, as),
        'DECRYPTION_FAILED',
      );
      expect(missing).toMatchObject({ reason: 'unknown-key', keyId: 'suite-k1' });
      await expectCode(t.manager({ encryption: onlyNew }).getHistory(id, as), 'DECRYPTION_FAILED');
      const plain = t.manager();
      const none = await expectCode(plain.getContext(id, as), 'DECRYPTION_FAILED');
      expect(none).toMatchObject({ reason: 'no-keyring', keyId: 'suite-k1' });
      expect(none.message).not.toContain(SECRET);
      await expectCode(plain.getHistory(id, as), 'DECRYPTION_FAILED');
      await expectCode(plain.getSession(id, as), 'DECRYPTION_FAILED');
      // Closing needs no plaintext, and a value that looks encrypted cannot be written in clear.
      await expectCode(
        plain.setContext(id, 'x', `${ENCRYPTED_VALUE_PREFIX}x:y`, as),
        'INVALID_VALUE',
      );
      expect(await plain.closeSession(id, as)).toBe(true);
    },
  },
  {
    group: 'encryption',
    name: 'maxContextBytes counts the stored (encrypted) form, on create as on update',
    async run(t) {
      const { rotated } = keyrings();
      const manager = t.manager({ encryption: rotated, limits: { maxContextBytes: 1000 } });
      // 800 bytes in clear, over 1000 once encrypted (4/3 of it, plus the prefix and tag).
      const big = 'x'.repeat(800);
      await expectCode(manager.createSession({ ...as, context: { big } }), 'PAYLOAD_TOO_LARGE');
      const { id } = await manager.createSession(as);
      await expectCode(manager.setContext(id, 'big', big, as), 'PAYLOAD_TOO_LARGE');
      await manager.setContext(id, 'small', 'x'.repeat(400), as);
      expect(await manager.getContext(id, 'small', as)).toBe('x'.repeat(400));
    },
  },
  {
    group: 'encryption',
    name: 'parallel writes of disjoint context keys stay lossless when encrypted',
    async run(t) {
      const { rotated } = keyrings();
      const managers = [t.manager({ encryption: rotated }), t.manager({ encryption: rotated })];
      const { id } = await managers[0]!.createSession(as);
      await Promise.all(
        range(20).map((i) => managers[i % 2]!.setContext(id, `k${i}`, { i, secret: SECRET }, as)),
      );
      const context = await managers[1]!.getContext(id, as);
      expect(Object.keys(context)).toHaveLength(20);
      for (const i of range(20)) expect(context[`k${i}`]).toEqual({ i, secret: SECRET });
      expect(await stored(t.store, hashSessionId(id), t.clock.now())).not.toContain(SECRET);
    },
  },
  {
    group: 'encryption',
    name: 'reencryptStore on a store without replaceEntries is REENCRYPTION_UNSUPPORTED and writes nothing',
    async run(t) {
      const { before, rotated } = keyrings();
      const { storageId } = await conversation(t, before);
      const snapshot = await stored(t.store, storageId, t.clock.now());
      const old = new Proxy(t.store, {
        get(target, key) {
          if (key === 'replaceEntries') return undefined;
          const value: unknown = Reflect.get(target, key, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }) as SessionStore;
      await expectCode(
        reencryptStore(old, rotated, { clock: t.clock }),
        'REENCRYPTION_UNSUPPORTED',
      );
      expect(await stored(t.store, storageId, t.clock.now())).toBe(snapshot);
    },
  },
];
