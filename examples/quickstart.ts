/**
 * The smallest complete use of mcp-session: open the store a URL names, then create a session, keep
 * context and history in it, and read them back. Run it with `pnpm start`; pick another backend with
 * SESSION_STORE_URL.
 */
import { createStore, redactUrl, SessionManager } from '@mcp-session/core';

const url = process.env.SESSION_STORE_URL ?? 'memory:';
const sessions = new SessionManager({ store: await createStore(url), idleTimeoutMs: 30 * 60_000 });

const session = await sessions.createSession({
  owner: 'alice',
  metadata: { client: 'quickstart' },
});
await sessions.setContext(session.id, 'favouriteColour', 'teal', { owner: 'alice' });
await sessions.addMessage(
  session.id,
  { role: 'user', content: 'Remember my favourite colour.' },
  { owner: 'alice' },
);
await sessions.addMessage(
  session.id,
  { role: 'assistant', content: 'Noted: teal.' },
  { owner: 'alice' },
);

const summary = await sessions.getConversationSummary(session.id, { owner: 'alice' });
console.log(`store:     ${redactUrl(url)}`);
console.log(`session:   ${session.id} (only its SHA-256 digest is stored)`);
console.log(
  `context:   ${JSON.stringify(await sessions.getContext(session.id, { owner: 'alice' }))}`,
);
console.log(
  `history:   ${summary.messageCount} messages, by role ${JSON.stringify(summary.byRole)}`,
);
console.log(
  `as mallory: ${JSON.stringify(await sessions.getSession(session.id, { owner: 'mallory' }))}`,
);
console.log(`store now: ${JSON.stringify((await sessions.getMetrics()).store)}`);
await sessions.close();
