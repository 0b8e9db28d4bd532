// What every backend's smoke script does: the root README's use of a store, checked, then closed.
import { isSessionError, SessionManager, type SessionStore } from '@mcp-session/core';

export function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`check failed: ${what}`);
}

/** Sessions, context, history, owner binding and typed errors on `store`; closes it. */
export async function smoke(name: string, store: SessionStore): Promise<void> {
  const sessions = new SessionManager({ store, idleTimeoutMs: 30 * 60_000 });
  try {
    const { id } = await sessions.createSession({ owner: 'user-42' });
    await sessions.setContext(id, 'cart', ['book'], { owner: 'user-42' });
    await sessions.addMessage(id, { role: 'user', content: 'hello' }, { owner: 'user-42' });
    const history = await sessions.getHistory(id, { owner: 'user-42' });
    check(history.length === 1, `${name}: one message in the history`);
    const cart = await sessions.getContext(id, 'cart', { owner: 'user-42' });
    check(JSON.stringify(cart) === '["book"]', `${name}: the context reads back`);
    check(
      (await sessions.getSession(id, { owner: 'someone-else' })) === null,
      `${name}: another owner sees nothing`,
    );
    const refused = await sessions
      .setContext(id, 'bad', Number.NaN, { owner: 'user-42' })
      .catch((error: unknown) => error);
    check(isSessionError(refused, 'INVALID_VALUE'), `${name}: NaN is refused with INVALID_VALUE`);
    await sessions.closeSession(id, { owner: 'user-42', purge: true });
  } finally {
    await sessions.close();
  }
  console.log(`${name}: ok`);
}
