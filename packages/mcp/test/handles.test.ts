import {
  hashSessionId,
  InvalidValueError,
  ManualClock,
  SessionManager,
  SessionNotFoundError,
} from '@mcp-session/core';
import { MemorySessionStore } from '@mcp-session/memory';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HANDLE_METADATA_KEY,
  HANDLE_PREFIX,
  HandleNotFoundError,
  HandleOwnerRequiredError,
  StateHandles,
} from '../src/handles/index.js';

const IDLE_MS = 60_000;
const LIFETIME_MS = 10 * 60_000;

const managers: SessionManager[] = [];
afterEach(async () => {
  for (const manager of managers.splice(0)) await manager.close();
});

function setup(options: { mintTool?: string } = {}) {
  const clock = new ManualClock();
  const store = new MemorySessionStore({ sweepIntervalMs: 0 });
  const manager = new SessionManager({
    store,
    clock,
    idleTimeoutMs: IDLE_MS,
    maxLifetimeMs: LIFETIME_MS,
    activityWriteIntervalMs: 0,
  });
  managers.push(manager);
  return { clock, store, manager, handles: new StateHandles(manager, options) };
}

describe('minting', () => {
  it('mints opaque, prefixed, URL-safe handles with at least 128 random bits, all distinct', async () => {
    const { handles } = setup();
    const minted = await Promise.all(Array.from({ length: 200 }, () => handles.mint('alice')));
    const seen = new Set<string>();
    for (const { handle } of minted) {
      expect(handle).toMatch(/^h_[A-Za-z0-9_-]+$/);
      const random = Buffer.from(handle.slice(HANDLE_PREFIX.length), 'base64url');
      expect(random.length).toBeGreaterThanOrEqual(16);
      seen.add(handle);
    }
    expect(seen.size).toBe(200);
  });

  it('stores a handle as a session bound to its owner, marked as a handle, under a hashed id', async () => {
    const { handles, store, clock } = setup();
    const { handle, expiresAt, state } = await handles.mint('alice', {
      context: { step: 1 },
      metadata: { purpose: 'checkout' },
    });
    expect(expiresAt).toBe(clock.now() + IDLE_MS);
    expect(state.handle).toBe(handle);
    const sessionId = handle.slice(HANDLE_PREFIX.length);
    // Neither the handle nor the session id is a key in the store: only the digest is.
    expect(await store.get(handle, { now: clock.now(), owner: 'alice' })).toBeNull();
    expect(await store.get(sessionId, { now: clock.now(), owner: 'alice' })).toBeNull();
    const record = await store.get(hashSessionId(sessionId), { now: clock.now(), owner: 'alice' });
    expect(record).toMatchObject({
      owner: 'alice',
      state: 'active',
      context: { step: 1 },
      metadata: { purpose: 'checkout', [HANDLE_METADATA_KEY]: { format: 1 } },
    });
  });

  it('refuses to mint without an owner, and writes nothing', async () => {
    const { handles, store, clock } = setup();
    for (const owner of [null, undefined, '']) {
      await expect(handles.mint(owner)).rejects.toBeInstanceOf(HandleOwnerRequiredError);
    }
    await expect(handles.mint(null)).rejects.toThrow(/authenticated user/);
    expect((await store.stats(clock.now())).total).toBe(0);
    expect(handles.stats()).toMatchObject({ minted: 0, unauthenticated: 4 });
  });

  it('rejects reserved metadata keys and non-JSON context before writing', async () => {
    const { handles, store, clock } = setup();
    await expect(
      handles.mint('alice', { metadata: { [HANDLE_METADATA_KEY]: { format: 1 } } }),
    ).rejects.toBeInstanceOf(InvalidValueError);
    await expect(handles.mint('alice', { metadata: { mcp: {} } })).rejects.toThrow(/reserved/);
    await expect(
      handles.mint('alice', { context: { when: new Date() as never } }),
    ).rejects.toBeInstanceOf(InvalidValueError);
    await expect(handles.mint('alice', { metadata: [] as never })).rejects.toBeInstanceOf(
      InvalidValueError,
    );
    expect((await store.stats(clock.now())).total).toBe(0);
  });

  it('validates its options', () => {
    const { manager } = setup();
    expect(() => new StateHandles({} as SessionManager)).toThrow(InvalidValueError);
    expect(() => new StateHandles(manager, { mintTool: ' ' })).toThrow(/mintTool/);
    expect(() => new StateHandles(manager, { owner: 'alice' as never })).toThrow(/owner/);
  });
});

describe('resolving', () => {
  it('gives the owner the state: context and history, written atomically per key', async () => {
    const { handles } = setup();
    const { handle } = await handles.mint('alice');
    const [a, b] = await Promise.all([
      handles.resolve(handle, 'alice'),
      handles.resolve(handle, 'alice'),
    ]);
    await Promise.all([a?.set('city', 'Lyon'), b?.update({ zip: '69001' })]);
    await a?.addMessage({ role: 'user', content: 'hello' });
    const state = await handles.resolve(handle, 'alice');
    expect(await state.getAll()).toEqual({ city: 'Lyon', zip: '69001' });
    expect((await state.history()).map((entry) => entry.data)).toEqual([
      { role: 'user', content: 'hello' },
    ]);
    expect(state.owner).toBe('alice');
  });

  it('answers another owner with "not found", indistinguishable from an unknown handle', async () => {
    const { handles } = setup();
    const { handle } = await handles.mint('alice');
    const foreign = await handles.resolve(handle, 'bob').catch((error: unknown) => error);
    const unknown = await handles
      .resolve(`${HANDLE_PREFIX}${'A'.repeat(32)}`, 'bob')
      .catch((error: unknown) => error);
    expect(foreign).toBeInstanceOf(HandleNotFoundError);
    expect(foreign).toBeInstanceOf(SessionNotFoundError);
    expect(unknown).toBeInstanceOf(HandleNotFoundError);
    expect((foreign as Error).message).toBe((unknown as Error).message);
    // Bob cannot close it either, and Alice still has it.
    expect(await handles.close(handle, 'bob')).toBe(false);
    await expect(handles.resolve(handle, 'alice')).resolves.toBeDefined();
  });

  it('refuses to resolve for a caller without an owner', async () => {
    const { handles } = setup();
    const { handle } = await handles.mint('alice');
    await expect(handles.resolve(handle, null)).rejects.toBeInstanceOf(HandleOwnerRequiredError);
  });

  it('refuses malformed handles as "not found" and non-strings as invalid', async () => {
    const { handles } = setup();
    const { handle } = await handles.mint('alice');
    const sessionId = handle.slice(HANDLE_PREFIX.length);
    for (const bad of [
      '',
      'h_',
      'x',
      sessionId,
      `H_${sessionId}`,
      `h_${sessionId} `,
      `h_é${sessionId}`,
    ]) {
      await expect(handles.resolve(bad, 'alice'), bad).rejects.toBeInstanceOf(HandleNotFoundError);
      expect(handles.isWellFormed(bad), bad).toBe(false);
    }
    expect(handles.isWellFormed(handle)).toBe(true);
    for (const bad of [undefined, null, 42, { handle }]) {
      await expect(handles.resolve(bad as never, 'alice')).rejects.toBeInstanceOf(
        InvalidValueError,
      );
    }
  });

  it('refuses a session that is not a handle (an MCP session id with the prefix)', async () => {
    const { handles, manager } = setup();
    const session = await manager.createSession({
      owner: 'alice',
      metadata: { mcp: { format: 1, generation: 1, initialize: {}, logLevel: null } },
    });
    await expect(handles.resolve(`${HANDLE_PREFIX}${session.id}`, 'alice')).rejects.toBeInstanceOf(
      HandleNotFoundError,
    );
    expect(handles.stats().notFound).toBe(1);
  });
});

describe('expiry', () => {
  it('expires after the idle timeout without use; each use slides it', async () => {
    const { handles, clock } = setup();
    const { handle, expiresAt } = await handles.mint('alice');
    clock.advance(IDLE_MS - 1);
    const used = await handles.resolve(handle, 'alice');
    expect(used.expiresAt).toBeGreaterThan(expiresAt ?? 0);
    clock.advance(IDLE_MS - 1);
    await expect(handles.resolve(handle, 'alice')).resolves.toBeDefined();
    clock.advance(IDLE_MS);
    await expect(handles.resolve(handle, 'alice')).rejects.toBeInstanceOf(HandleNotFoundError);
  });

  it('expires at the absolute lifetime however often it is used, and is swept', async () => {
    const { handles, clock, manager } = setup();
    const { handle } = await handles.mint('alice');
    const step = IDLE_MS / 2;
    for (let elapsed = step; elapsed < LIFETIME_MS; elapsed += step) {
      clock.advance(step);
      await (await handles.resolve(handle, 'alice')).set('t', elapsed);
    }
    // Last used half an idle timeout ago: only the lifetime can end it now.
    clock.advance(step - 1);
    await expect(handles.resolve(handle, 'alice')).resolves.toBeDefined();
    clock.advance(1);
    // Swept before any read (the memory store also drops expired records when it reads them).
    expect(await manager.sweepExpired()).toBe(1);
    await expect(handles.resolve(handle, 'alice')).rejects.toBeInstanceOf(HandleNotFoundError);
  });

  it('turns a write on a handle that expired mid-use into "not found"', async () => {
    const { handles, clock } = setup();
    const { handle } = await handles.mint('alice');
    const state = await handles.resolve(handle, 'alice');
    clock.advance(IDLE_MS);
    await expect(state.set('k', 'v')).rejects.toBeInstanceOf(SessionNotFoundError);
  });
});

describe('closing', () => {
  it('closes for the owner: later uses get "not found", a second close returns false', async () => {
    const { handles, manager } = setup();
    const { handle, state } = await handles.mint('alice');
    await state.set('k', 'v');
    expect(await handles.close(handle, 'alice')).toBe(true);
    await expect(handles.resolve(handle, 'alice')).rejects.toBeInstanceOf(HandleNotFoundError);
    await expect(state.get('k')).rejects.toBeInstanceOf(SessionNotFoundError);
    expect(await handles.close(handle, 'alice')).toBe(false);
    expect(await state.close()).toBe(false);
    expect((await manager.getMetrics()).store.byState.closed).toBe(1);
  });

  it('names the minting tool in its not-found message when it knows it', () => {
    expect(setup({ mintTool: 'open_state' }).handles.notFoundMessage()).toMatch(
      /Call open_state to get a new handle/,
    );
    expect(setup().handles.notFoundMessage()).toMatch(/Open a new state handle/);
  });
});
