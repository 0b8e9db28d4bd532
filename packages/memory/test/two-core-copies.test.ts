import { importSecondCoreCopy, type SecondCoreCopy } from '@mcp-session/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySessionStore } from '../src/index.js';

/**
 * Regression: when an application's core and an adapter's core were two copies (two versions installed
 * side by side), the manager decided with `instanceof` on errors the store had made with the other copy's
 * classes: writing to a closed session threw VERSION_CONFLICT instead of SESSION_CLOSED, and a session
 * closed meanwhile escaped `getSession` as an error. Here the manager is a real second copy of core, the
 * store this package's, built on the first.
 */
let second: SecondCoreCopy;

beforeAll(async () => {
  second = await importSecondCoreCopy();
});

afterAll(async () => {
  await second.remove();
});

async function codeOf(work: Promise<unknown>): Promise<string> {
  const error = await work.then(
    () => new Error('it succeeded'),
    (caught: unknown) => caught,
  );
  expect(second.core.isSessionError(error), String(error)).toBe(true);
  return (error as { code: string }).code;
}

describe("a manager from another copy of core over this store maps the store's errors as documented", () => {
  function manager() {
    return new second.core.SessionManager({
      store: new MemorySessionStore({ sweepIntervalMs: 0 }),
    });
  }

  it('a closed session: SESSION_CLOSED for its owner, null from reads, a fresh id from resume', async () => {
    const sessions = manager();
    const { id } = await sessions.createSession({ owner: 'alice' });
    await sessions.addMessage(id, { role: 'user', content: 'hi' }, { owner: 'alice' });
    expect(await sessions.closeSession(id, { owner: 'alice' })).toBe(true);

    expect(await codeOf(sessions.setContext(id, 'k', 1, { owner: 'alice' }))).toBe(
      'SESSION_CLOSED',
    );
    expect(
      await codeOf(sessions.addMessage(id, { role: 'user', content: 'again' }, { owner: 'alice' })),
    ).toBe('SESSION_CLOSED');
    expect(await codeOf(sessions.transitionState(id, 'active', { owner: 'alice' }))).toBe(
      'SESSION_CLOSED',
    );
    expect(await codeOf(sessions.getHistory(id, { owner: 'alice' }))).toBe('SESSION_CLOSED');
    expect(await sessions.getSession(id, { owner: 'alice' })).toBeNull();
    expect(await sessions.closeSession(id, { owner: 'alice' })).toBe(false);
    const resumed = await sessions.resumeSession(id, { owner: 'alice' });
    expect(resumed.resumed).toBe(false);
    expect(resumed.session.id).not.toBe(id);
    await sessions.close();
  });

  it('another owner: SESSION_NOT_FOUND; a suspended session: SESSION_SUSPENDED', async () => {
    const sessions = manager();
    const { id } = await sessions.createSession({ owner: 'alice' });
    expect(await codeOf(sessions.setContext(id, 'k', 1, { owner: 'bob' }))).toBe(
      'SESSION_NOT_FOUND',
    );
    expect(await sessions.getSession(id, { owner: 'bob' })).toBeNull();
    await sessions.transitionState(id, 'suspended', { owner: 'alice' });
    expect(await codeOf(sessions.setContext(id, 'k', 1, { owner: 'alice' }))).toBe(
      'SESSION_SUSPENDED',
    );
    await sessions.transitionState(id, 'active', { owner: 'alice' });
    await sessions.setContext(id, 'k', 1, { owner: 'alice' });
    expect(await sessions.getContext(id, 'k', { owner: 'alice' })).toBe(1);
    await sessions.close();
  });

  it('a lost race: VERSION_CONFLICT for a stale expectedVersion, counted once', async () => {
    const sessions = manager();
    const { id, version } = await sessions.createSession();
    await sessions.updateSession(id, { context: { first: true } }, { expectedVersion: version });
    expect(
      await codeOf(
        sessions.updateSession(id, { context: { late: true } }, { expectedVersion: version }),
      ),
    ).toBe('VERSION_CONFLICT');
    expect((await sessions.getMetrics()).counters.versionConflicts).toBe(1);
    await sessions.close();
  });

  it("the store's own refusals and its closed state are recognised by the other copy", async () => {
    const store = new MemorySessionStore({ sweepIntervalMs: 0 });
    expect(await codeOf(store.get('has space', { now: Date.now() }))).toBe('INVALID_ID');
    const sessions = new second.core.SessionManager({ store });
    await sessions.close();
    expect(await codeOf(sessions.createSession())).toBe('STORE_CLOSED');
    expect(
      second.core.isSessionError(
        await sessions.createSession().catch((e) => e),
        'STORE_UNAVAILABLE',
      ),
    ).toBe(true);
  });
});
