import {
  hashSessionId,
  SESSION_STATES,
  type SessionEvents,
  type SessionState,
} from '@mcp-session/core';
import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';
import { codesOf, expectCode, range, seqRange, settle } from './helpers.js';

const SEED_TRANSITIONS: Record<SessionState, SessionState[]> = {
  active: ['idle', 'suspended', 'closed'],
  idle: ['active', 'closed'],
  suspended: ['active', 'closed'],
  closed: [],
};

export const managerCases: ConformanceCase[] = [
  {
    group: 'manager',
    name: 'session round trip; only the SHA-256 digest of the id is stored',
    async run(t) {
      const manager = t.manager();
      const session = await manager.createSession({
        owner: 'alice',
        context: { plan: 'pro' },
        metadata: { clientInfo: { name: 'test' } },
      });
      expect(session).toMatchObject({
        state: 'active',
        owner: 'alice',
        version: 1,
        messageCount: 0,
      });
      expect(session.id).toMatch(/^[\x21-\x7e]{22,}$/);
      const now = t.clock.now();
      expect(await t.store.get(session.id, { now })).toBeNull();
      const stored = await t.store.get(hashSessionId(session.id), { now });
      expect(stored).toMatchObject({ id: hashSessionId(session.id), context: { plan: 'pro' } });
      const listing = JSON.stringify(await t.store.list({ now, limit: 10 }));
      expect(listing).not.toContain(session.id);

      expect(await manager.getSession(session.id, { owner: 'alice' })).toEqual(session);
      const updated = await manager.updateSession(
        session.id,
        { context: { plan: 'team' }, metadata: { v: 2 } },
        { owner: 'alice', expectedVersion: 1 },
      );
      expect(updated).toMatchObject({
        id: session.id,
        context: { plan: 'team' },
        metadata: { v: 2 },
        version: 2,
      });
      await expectCode(
        manager.updateSession(
          session.id,
          { context: { plan: 'lost' } },
          { owner: 'alice', expectedVersion: 1 },
        ),
        'VERSION_CONFLICT',
      );
      expect(await manager.closeSession(session.id, { owner: 'alice' })).toBe(true);
      expect(await manager.getSession(session.id, { owner: 'alice' })).toBeNull();
    },
  },
  {
    group: 'manager',
    name: 'with hashIds off, the session id is the storage id',
    async run(t) {
      const manager = t.manager({ hashIds: false });
      const session = await manager.createSession();
      expect(await t.store.get(session.id, { now: t.clock.now() })).toMatchObject({
        id: session.id,
      });
    },
  },
  {
    group: 'manager',
    name: 'owner binding: another owner, or no owner, gets "not found" from every operation',
    async run(t) {
      const manager = t.manager();
      const { id } = await manager.createSession({ owner: 'alice', context: { secret: 1 } });
      await manager.addMessage(id, { role: 'user', content: 'private' }, { owner: 'alice' });
      for (const owner of ['mallory', null, undefined]) {
        const as = owner === undefined ? {} : { owner };
        expect(await manager.getSession(id, as)).toBeNull();
        await expectCode(manager.requireSession(id, as), 'SESSION_NOT_FOUND');
        await expectCode(manager.getContext(id, as), 'SESSION_NOT_FOUND');
        await expectCode(manager.setContext(id, 'x', 1, as), 'SESSION_NOT_FOUND');
        await expectCode(manager.updateContext(id, { x: 1 }, as), 'SESSION_NOT_FOUND');
        await expectCode(manager.clearContext(id, as), 'SESSION_NOT_FOUND');
        await expectCode(
          manager.addMessage(id, { role: 'user', content: 'x' }, as),
          'SESSION_NOT_FOUND',
        );
        await expectCode(manager.getHistory(id, as), 'SESSION_NOT_FOUND');
        await expectCode(manager.transitionState(id, 'idle', as), 'SESSION_NOT_FOUND');
        await expectCode(manager.touch(id, as), 'SESSION_NOT_FOUND');
        await expectCode(manager.getSessionStatistics(id, as), 'SESSION_NOT_FOUND');
        expect(await manager.closeSession(id, as)).toBe(false);
        expect(await manager.closeSession(id, { ...as, purge: true })).toBe(false);
        const resumed = await manager.resumeSession(id, as);
        expect(resumed.resumed).toBe(false);
        expect(resumed.session.id).not.toBe(id);
      }
      expect(await manager.getContext(id, { owner: 'alice' })).toEqual({ secret: 1 });
      expect(await manager.getHistory(id, { owner: 'alice' })).toHaveLength(1);
      expect(await manager.getState(id, { owner: 'alice' })).toBe('active');
    },
  },
  {
    group: 'manager',
    name: 'closed is terminal and answers like missing; the tombstone is swept after its retention',
    async run(t) {
      const manager = t.manager({ closedRetentionMs: 60_000 });
      const closed: string[] = [];
      manager.on('closed', ({ id }) => closed.push(id));
      const { id } = await manager.createSession({ owner: 'alice', context: { a: 1 } });
      expect(await manager.closeSession(id, { owner: 'alice' })).toBe(true);
      expect(await manager.closeSession(id, { owner: 'alice' })).toBe(false);
      expect(closed).toEqual([id]);
      const as = { owner: 'alice' };
      expect(await manager.getSession(id, as)).toBeNull();
      const error = await expectCode(manager.requireSession(id, as), 'SESSION_CLOSED');
      expect(error.name).toBe('SessionClosedError');
      await expectCode(manager.setContext(id, 'a', 2, as), 'SESSION_CLOSED');
      await expectCode(
        manager.addMessage(id, { role: 'user', content: 'x' }, as),
        'SESSION_CLOSED',
      );
      await expectCode(manager.getHistory(id, as), 'SESSION_CLOSED');
      await expectCode(manager.transitionState(id, 'active', as), 'SESSION_CLOSED');
      await expectCode(manager.touch(id, as), 'SESSION_CLOSED');
      await expectCode(manager.getState(id, as), 'SESSION_CLOSED');
      const resumed = await manager.resumeSession(id, as);
      expect(resumed.resumed).toBe(false);
      expect(resumed.session.id).not.toBe(id);
      const storageId = manager.storageId(id);
      expect(await t.store.get(storageId, { now: t.clock.now() })).toMatchObject({
        state: 'closed',
        context: { a: 1 },
      });
      t.clock.advance(60_000);
      expect(await manager.sweepExpired()).toBeGreaterThanOrEqual(1);
      expect(await t.store.delete(storageId)).toBe(false);
    },
  },
  {
    group: 'manager',
    name: 'updateSession with a stale expectedVersion on a closed session answers SESSION_CLOSED, never VERSION_CONFLICT with the version (regression)',
    async run(t) {
      const manager = t.manager();
      const as = { owner: 'alice' };
      const { id, version } = await manager.createSession({ ...as, context: { a: 1 } });
      await manager.setContext(id, 'a', 2, as);
      await manager.closeSession(id, as);
      const tombstone = await manager.peekSession(id, as);
      expect(tombstone).toMatchObject({ state: 'closed', version: version + 2 });
      const closedVersion = version + 2;
      for (const expectedVersion of [version, version + 1, closedVersion, 999]) {
        const error = await expectCode(
          manager.updateSession(id, { context: { b: 1 } }, { ...as, expectedVersion }),
          'SESSION_CLOSED',
        );
        expect(error.message).not.toMatch(/version/i);
        expect(error.message).not.toContain(String(closedVersion));
      }
      // Another owner, or none, cannot tell the tombstone from an unknown id.
      for (const other of [{ owner: 'mallory' }, {}]) {
        await expectCode(
          manager.updateSession(id, { context: { b: 1 } }, { ...other, expectedVersion: version }),
          'SESSION_NOT_FOUND',
        );
      }
      const suspended = await manager.createSession(as);
      await manager.transitionState(suspended.id, 'suspended', as);
      await expectCode(
        manager.updateSession(
          suspended.id,
          { context: { b: 1 } },
          { ...as, expectedVersion: suspended.version },
        ),
        'SESSION_SUSPENDED',
      );
      expect((await manager.getMetrics()).counters.versionConflicts).toBe(0);
      expect(await manager.peekSession(id, as)).toEqual(tombstone);
    },
  },
  {
    group: 'manager',
    name: 'closeSession with purge deletes the session and its history at once',
    async run(t) {
      const manager = t.manager();
      const { id } = await manager.createSession();
      await manager.addMessage(id, { role: 'user', content: 'bye' });
      expect(await manager.closeSession(id, { purge: true })).toBe(true);
      expect(await t.store.delete(manager.storageId(id))).toBe(false);
    },
  },
  {
    group: 'manager',
    name: 'the state machine allows exactly the seed transitions',
    async run(t) {
      const manager = t.manager();
      for (const from of SESSION_STATES) {
        for (const to of SESSION_STATES) {
          expect(manager.canTransition(from, to), `${from} → ${to}`).toBe(
            SEED_TRANSITIONS[from].includes(to),
          );
          if (from === 'closed') continue;
          const { id } = await manager.createSession();
          if (from !== 'active') await manager.transitionState(id, from);
          if (SEED_TRANSITIONS[from].includes(to)) {
            expect((await manager.transitionState(id, to)).state).toBe(to);
          } else {
            await expectCode(manager.transitionState(id, to), 'INVALID_TRANSITION');
            expect(await manager.getState(id)).toBe(from);
          }
        }
      }
      const { id } = await manager.createSession();
      await expectCode(manager.transitionState(id, 'paused' as SessionState), 'INVALID_VALUE');
    },
  },
  {
    group: 'manager',
    name: 'a transition slides the expiry, unless it is told not to record activity',
    async run(t) {
      const manager = t.manager({ idleTimeoutMs: 10_000 });
      const session = await manager.createSession();
      const later = t.clock.advance(5_000);
      const idle = await manager.transitionState(session.id, 'idle', { recordActivity: false });
      expect(idle).toMatchObject({
        state: 'idle',
        lastActivityAt: session.createdAt,
        expiresAt: session.expiresAt,
      });
      const active = await manager.transitionState(session.id, 'active');
      expect(active).toMatchObject({
        state: 'active',
        lastActivityAt: later,
        expiresAt: later + 10_000,
      });
    },
  },
  {
    group: 'manager',
    name: 'a suspended session can be read but refuses writes until resumed; idle sessions accept writes',
    async run(t) {
      const manager = t.manager();
      const { id } = await manager.createSession({ context: { a: 1 } });
      await manager.transitionState(id, 'suspended');
      expect(await manager.getContext(id, 'a')).toBe(1);
      await expectCode(manager.setContext(id, 'a', 2), 'SESSION_SUSPENDED');
      await expectCode(manager.addMessage(id, { role: 'user', content: 'x' }), 'SESSION_SUSPENDED');
      expect(await manager.getHistory(id)).toEqual([]);
      await manager.transitionState(id, 'active');
      await manager.transitionState(id, 'idle');
      await manager.setContext(id, 'a', 3);
      await manager.addMessage(id, { role: 'user', content: 'while idle' });
      expect(await manager.getState(id)).toBe('idle');
      expect(await manager.getContext(id)).toEqual({ a: 3 });
    },
  },
  {
    group: 'manager',
    name: 'context operations: set, get, update with removals, clear',
    async run(t) {
      const manager = t.manager();
      const { id } = await manager.createSession({ context: { a: 1, b: 2 } });
      await manager.setContext(id, 'c', { nested: [1, 2] });
      expect(await manager.getContext(id, 'c')).toEqual({ nested: [1, 2] });
      expect(await manager.getContext(id, 'missing')).toBeUndefined();
      await manager.updateContext(id, { a: 10, d: 'new' }, { remove: ['b'] });
      expect(await manager.getContext(id)).toEqual({ a: 10, c: { nested: [1, 2] }, d: 'new' });
      const cleared = await manager.clearContext(id);
      expect(cleared.context).toEqual({});
      expect(await manager.getContext(id)).toEqual({});
    },
  },
  {
    group: 'manager',
    name: 'history: default cap 100 enforced by the store, per-call cap, paging, summary and statistics',
    timeout: 60_000,
    async run(t) {
      const manager = t.manager();
      const { id } = await manager.createSession();
      for (const i of range(150)) {
        const { seq } = await manager.addMessage(id, {
          role: i % 3 === 0 ? 'user' : 'assistant',
          content: `m${i}`,
        });
        expect(seq).toBe(i + 1);
      }
      const history = await manager.getHistory(id);
      expect(history.map((e) => e.seq)).toEqual(seqRange(51, 150));
      expect(history[0]?.data).toEqual({ role: 'assistant', content: 'm50' });
      expect((await manager.getHistory(id, { limit: 3 })).map((e) => e.data.content)).toEqual([
        'm147',
        'm148',
        'm149',
      ]);
      expect((await manager.getHistory(id, { afterSeq: 60, limit: 2 })).map((e) => e.seq)).toEqual([
        61, 62,
      ]);
      expect((await manager.getHistory(id, { beforeSeq: 60, limit: 2 })).map((e) => e.seq)).toEqual(
        [58, 59],
      );

      const summary = await manager.getConversationSummary(id, { recent: 2 });
      expect(summary).toMatchObject({
        id,
        state: 'active',
        messageCount: 150,
        retainedMessages: 100,
      });
      expect(summary.byRole).toEqual({ user: 33, assistant: 67 });
      expect(summary.recent.map((e) => e.data.content)).toEqual(['m148', 'm149']);
      expect(summary.firstMessageAt).toBe(t.clock.now());

      const stats = await manager.getSessionStatistics(id);
      expect(stats).toMatchObject({
        messageCount: 150,
        retainedMessages: 100,
        contextKeys: 0,
        state: 'active',
      });

      await manager.addMessage(id, { role: 'user', content: 'tight' }, { cap: 10 });
      expect((await manager.getHistory(id)).map((e) => e.seq)).toEqual(seqRange(142, 151));
      expect((await manager.getSessionStatistics(id)).retainedMessages).toBe(10);

      const small = t.manager({ historyCap: 3 });
      const other = await small.createSession();
      for (const i of range(5))
        await small.addMessage(other.id, { role: 'user', content: i, extra: { kept: true } });
      expect((await small.getHistory(other.id)).map((e) => e.data)).toEqual(
        [2, 3, 4].map((content) => ({ role: 'user', content, extra: { kept: true } })),
      );
    },
  },
  {
    group: 'manager',
    name: 'reads write activity only once the activity interval has passed',
    async run(t) {
      const manager = t.manager({ idleTimeoutMs: 10_000, activityWriteIntervalMs: 1_000 });
      const session = await manager.createSession();
      t.clock.advance(999);
      await manager.getSession(session.id);
      await manager.getContext(session.id);
      await manager.getHistory(session.id);
      const unchanged = await t.store.get(manager.storageId(session.id), { now: t.clock.now() });
      expect(unchanged).toMatchObject({ version: 1, lastActivityAt: session.createdAt });
      const now = t.clock.advance(1);
      const touched = await manager.getSession(session.id);
      expect(touched).toMatchObject({ version: 2, lastActivityAt: now, expiresAt: now + 10_000 });
      expect((await manager.getMetrics()).counters.activityWrites).toBe(1);
    },
  },
  {
    group: 'manager',
    name: 'peekSession records no activity, sees closed tombstones, and hides other owners',
    async run(t) {
      const manager = t.manager({ idleTimeoutMs: 10_000, activityWriteIntervalMs: 1_000 });
      const session = await manager.createSession({ owner: 'alice', metadata: { kind: 'probe' } });
      const unbound = await manager.createSession();
      t.clock.advance(5_000);
      const peeked = await manager.peekSession(session.id, { owner: 'alice' });
      expect(peeked).toMatchObject({
        id: session.id,
        state: 'active',
        owner: 'alice',
        metadata: { kind: 'probe' },
        version: 1,
        lastActivityAt: session.createdAt,
      });
      // Past the activity interval, a peek still writes nothing: the store holds the same version.
      const storageId = manager.storageId(session.id);
      expect(await t.store.get(storageId, { now: t.clock.now() })).toMatchObject({ version: 1 });
      expect((await manager.getMetrics()).counters.activityWrites).toBe(0);

      expect(await manager.peekSession(session.id, { owner: 'bob' })).toBeNull();
      expect(await manager.peekSession(session.id)).toBeNull();
      expect(await manager.peekSession(unbound.id, { owner: 'bob' })).toMatchObject({
        id: unbound.id,
        owner: null,
      });

      await manager.closeSession(session.id, { owner: 'alice' });
      expect(await manager.getSession(session.id, { owner: 'alice' })).toBeNull();
      expect(await manager.peekSession(session.id, { owner: 'alice' })).toMatchObject({
        state: 'closed',
        metadata: { kind: 'probe' },
      });
      t.clock.advance(manager.closedRetentionMs);
      expect(await manager.peekSession(session.id, { owner: 'alice' })).toBeNull();
      expect(await manager.peekSession('no-such-session-id')).toBeNull();
      await expectCode(manager.peekSession('has space'), 'INVALID_ID');
    },
  },
  {
    group: 'manager',
    name: 'resumeSession: same owner gets its session back; anyone else, or an unknown id, gets a fresh one',
    async run(t) {
      const manager = t.manager();
      const original = await manager.createSession({
        owner: 'alice',
        context: { remembered: true },
      });
      await manager.addMessage(original.id, { role: 'user', content: 'hello' }, { owner: 'alice' });
      await manager.transitionState(original.id, 'idle', { owner: 'alice' });

      const back = await manager.resumeSession(original.id, { owner: 'alice' });
      expect(back.resumed).toBe(true);
      expect(back.session).toMatchObject({
        id: original.id,
        state: 'active',
        context: { remembered: true },
      });
      expect(await manager.getHistory(original.id, { owner: 'alice' })).toHaveLength(1);

      const stolen = await manager.resumeSession(original.id, {
        owner: 'mallory',
        context: { fresh: true },
      });
      expect(stolen.resumed).toBe(false);
      expect(stolen.session).toMatchObject({ owner: 'mallory', context: { fresh: true } });
      expect(stolen.session.id).not.toBe(original.id);

      const unbound = await manager.createSession();
      expect((await manager.resumeSession(unbound.id, { owner: 'alice' })).resumed).toBe(false);
      expect((await manager.resumeSession(unbound.id)).resumed).toBe(true);

      for (const preferred of ['never-issued-id', 'bad id with spaces', '', null, undefined]) {
        const result = await manager.resumeSession(preferred, { owner: 'alice' });
        expect(result.resumed).toBe(false);
        expect(result.session.id).not.toBe(preferred);
      }
      await manager.transitionState(original.id, 'suspended', { owner: 'alice' });
      expect((await manager.resumeSession(original.id, { owner: 'alice' })).session.state).toBe(
        'active',
      );
      expect((await manager.getMetrics()).counters.sessionsResumed).toBe(3);
    },
  },
  {
    group: 'manager',
    name: 'events fire after successful writes; a throwing listener never fails the operation',
    async run(t) {
      const errors: unknown[] = [];
      const manager = t.manager({ onListenerError: (error) => errors.push(error) });
      const seen: string[] = [];
      const events: (keyof SessionEvents)[] = [
        'created',
        'resumed',
        'updated',
        'message',
        'transitioned',
        'closed',
        'expired',
      ];
      for (const event of events) manager.on(event, () => seen.push(event));
      const unsubscribe = manager.on('created', () => {
        throw new Error('listener failure');
      });
      const { id } = await manager.createSession();
      unsubscribe();
      await manager.setContext(id, 'k', 1);
      await manager.addMessage(id, { role: 'user', content: 'x' });
      await manager.transitionState(id, 'idle');
      await manager.resumeSession(id);
      await manager.closeSession(id);
      await manager.createSession();
      t.clock.advance(48 * 3_600_000);
      await manager.sweepExpired();
      expect(seen).toEqual([
        'created',
        'updated',
        'message',
        'transitioned',
        'transitioned',
        'resumed',
        'transitioned',
        'closed',
        'created',
        'expired',
      ]);
      expect(errors).toHaveLength(1);
      const { counters } = await manager.getMetrics();
      expect(counters).toMatchObject({
        sessionsCreated: 2,
        sessionsResumed: 1,
        sessionsClosed: 1,
        sessionsExpired: 2,
        messagesAdded: 1,
        transitions: 3,
      });
    },
  },
  {
    group: 'manager',
    name: 'getMetrics reports the store aggregates beside the counters',
    async run(t) {
      const manager = t.manager();
      const a = await manager.createSession();
      await manager.createSession();
      await manager.addMessage(a.id, { role: 'user', content: 'x' });
      await manager.transitionState(a.id, 'idle');
      const { store } = await manager.getMetrics();
      expect(store).toMatchObject({
        total: 2,
        messages: 1,
        byState: { active: 1, idle: 1, suspended: 0, closed: 0 },
      });
    },
  },
  {
    group: 'manager',
    name: 'generated ids carry at least 128 bits, are visible ASCII and never repeat',
    async run(t) {
      const manager = t.manager();
      const ids = new Set<string>();
      for (const _ of range(200)) ids.add((await manager.createSession()).id);
      expect(ids.size).toBe(200);
      for (const id of ids) {
        expect(id).toMatch(/^[\x21-\x7e]+$/);
        expect(Buffer.from(id, 'base64url').length).toBeGreaterThanOrEqual(16);
      }
    },
  },
  {
    group: 'manager',
    name: 'listSessions pages with the store cursor and filters by owner and state',
    async run(t) {
      const manager = t.manager();
      for (const _ of range(3)) await manager.createSession({ owner: 'alice' });
      const bob = await manager.createSession({ owner: 'bob' });
      await manager.transitionState(bob.id, 'suspended', { owner: 'bob' });
      const first = await manager.listSessions({ owner: 'alice', limit: 2 });
      expect(first.records).toHaveLength(2);
      const second = await manager.listSessions({
        owner: 'alice',
        limit: 2,
        cursor: first.nextCursor,
      });
      expect(second.records).toHaveLength(1);
      expect(second.nextCursor).toBeNull();
      expect((await manager.listSessions({ state: 'suspended' })).records.map((r) => r.id)).toEqual(
        [manager.storageId(bob.id)],
      );
    },
  },
  {
    group: 'manager',
    name: 'maxSessionsPerOwner: the N+1-th session of an owner is refused while other owners create; closed and expired sessions free places',
    async run(t) {
      const manager = t.manager({ maxSessionsPerOwner: 3, idleTimeoutMs: 10_000 });
      const alice = { owner: 'alice' };
      const [first, second, third] = [
        await manager.createSession(alice),
        await manager.createSession(alice),
        await manager.createSession(alice),
      ];
      const refused = await expectCode(manager.createSession(alice), 'QUOTA_EXCEEDED');
      expect(refused).toMatchObject({ scope: 'owner', limit: 3 });
      const storedCount = () => t.store.count({ now: t.clock.now(), owner: 'alice' });
      expect(await storedCount(), 'a refused create wrote a session').toBe(3);
      await expectCode(manager.resumeSession('never-issued-id', alice), 'QUOTA_EXCEEDED');
      // Resuming a session the owner holds is no create.
      const resumed = await manager.resumeSession(first.id, alice);
      expect(resumed.resumed).toBe(true);

      // Others are not held back: other owners, look-alike owners, unbound sessions.
      for (const owner of ['bob', 'alice ', 'Alice']) {
        for (const _ of range(3)) await manager.createSession({ owner });
      }
      for (const _ of range(5)) await manager.createSession();
      await expectCode(manager.createSession({ owner: 'bob' }), 'QUOTA_EXCEEDED');

      // A closed session (a tombstone until swept) holds no place; a suspended or idle one does.
      await manager.transitionState(second.id, 'suspended', alice);
      await manager.transitionState(third.id, 'idle', alice);
      await expectCode(manager.createSession(alice), 'QUOTA_EXCEEDED');
      await manager.closeSession(first.id, alice);
      await manager.createSession(alice);
      await expectCode(manager.createSession(alice), 'QUOTA_EXCEEDED');

      // Expired sessions hold none either.
      t.clock.advance(10_000);
      for (const _ of range(3)) await manager.createSession(alice);
      await expectCode(manager.createSession(alice), 'QUOTA_EXCEEDED');
      expect((await manager.getMetrics()).counters.quotaRefusals).toBe(6);
    },
  },
  {
    group: 'manager',
    name: 'maxSessionsPerOwner: N + 20 concurrent creates of one owner on one manager leave exactly N sessions',
    async run(t) {
      const manager = t.manager({ maxSessionsPerOwner: 10 });
      const { fulfilled, rejected } = await settle(
        range(30).map(() => manager.createSession({ owner: 'alice' })),
      );
      expect(fulfilled).toHaveLength(10);
      expect(codesOf(rejected)).toEqual(range(20).map(() => 'QUOTA_EXCEEDED'));
      const now = t.clock.now();
      expect(await t.store.count({ now, owner: 'alice' })).toBe(10);
      const listed = await t.store.list({ now, owner: 'alice', limit: 100 });
      expect(listed.records.map((r) => r.id).sort()).toEqual(
        fulfilled.map((s) => manager.storageId(s.id)).sort(),
      );
    },
  },
  {
    group: 'manager',
    name: "maxSessions: the store's count, refreshed every quotaRefreshMs, plus this manager's creates since",
    async run(t) {
      const now = t.clock.now();
      // Two sessions of another instance, and a closed one, which holds no place.
      const others = range(2).map(() => t.record({ expiresAt: null }));
      for (const record of others) await t.store.create(record, { now });
      await t.store.create(t.record({ state: 'closed', expiresAt: null }), { now });
      const manager = t.manager({ maxSessions: 5, quotaRefreshMs: 60_000 });
      const first = await manager.createSession();
      await manager.createSession({ owner: 'alice' });
      await manager.createSession({ owner: 'bob' });
      const refused = await expectCode(manager.createSession({ owner: 'carol' }), 'QUOTA_EXCEEDED');
      expect(refused).toMatchObject({ scope: 'total', limit: 5 });
      await expectCode(manager.resumeSession('never-issued-id'), 'QUOTA_EXCEEDED');
      expect(await t.store.count({ now: t.clock.now() }), 'a refused create wrote a session').toBe(
        6,
      );

      // A close frees its place at the next count, not before.
      await manager.closeSession(first.id);
      await expectCode(manager.createSession(), 'QUOTA_EXCEEDED');
      t.clock.advance(60_000);
      await manager.createSession();
      await expectCode(manager.createSession(), 'QUOTA_EXCEEDED');

      // So does a session another instance deleted.
      expect(await t.store.delete((others[0] as { id: string }).id)).toBe(true);
      await expectCode(manager.createSession(), 'QUOTA_EXCEEDED');
      t.clock.advance(60_000);
      await manager.createSession();
      await expectCode(manager.createSession(), 'QUOTA_EXCEEDED');
      expect((await manager.getMetrics()).counters.quotaRefusals).toBe(6);
    },
  },
];
