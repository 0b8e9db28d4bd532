import type { SessionStore } from '@mcp-session/core';
import { makeRecord } from '@mcp-session/test-suite';

/**
 * One valid call of every store primitive, named, on the session `id` (which exists or existed) at `now`;
 * `create` makes a new session. For tests that check how every primitive behaves in one situation
 * (after `close()`, with the backend gone).
 */
export function everyPrimitive(
  store: SessionStore,
  id: string,
  now: number,
): [primitive: string, call: () => Promise<unknown>][] {
  const fresh = makeRecord(now);
  return [
    ['create', () => store.create(fresh, { now })],
    ['get', () => store.get(id, { now })],
    ['update', () => store.update(id, { contextSet: { a: 1 } }, { now })],
    ['append', () => store.append(id, 'history', [1], { now })],
    ['read', () => store.read(id, 'history', { now })],
    ['delete', () => store.delete(id)],
    ['list', () => store.list({ now, limit: 10 })],
    ['sweep', () => store.sweep(now)],
    ['stats', () => store.stats(now)],
  ];
}
