/**
 * Runs in a child process: `node child-runner.js <module> <location> <task> <json args>`. Opens the store
 * through the adapter's module, runs the task, closes the store and prints the result as one JSON line.
 * It never calls process.exit: exiting on its own proves close() released everything.
 */
import { pathToFileURL } from 'node:url';
import type { SessionStore } from '@mcp-session/core';

type Open = (location: string) => SessionStore | Promise<SessionStore>;

const [modulePath = '', location = '', task = '', rawArgs = '{}'] = process.argv.slice(2);
const adapter = (await import(pathToFileURL(modulePath).href)) as {
  open?: Open;
  default?: { open?: Open };
};
const open = adapter.open ?? adapter.default?.open;
if (typeof open !== 'function') throw new Error(`${modulePath} must export open(location)`);
const args = JSON.parse(rawArgs) as Record<string, number | string>;
const store = await open(location);
const now = Number(args.now);

async function waitUntil(startAt: number): Promise<void> {
  const delay = startAt - Date.now();
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
}

/** Runs `count` jobs with at most `inFlight` of them pending at once. */
async function pool(
  count: number,
  inFlight: number,
  job: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(inFlight, count) }, async () => {
    while (next < count) await job(next++);
  });
  await Promise.all(lanes);
}

let result: unknown;
switch (task) {
  case 'exercise': {
    const id = String(args.id);
    const record = {
      id,
      state: 'active' as const,
      context: { a: 1 },
      metadata: {},
      owner: null,
      createdAt: now,
      lastActivityAt: now,
      expiresAt: now + 60_000,
      version: 1,
      messageCount: 0,
    };
    await store.create(record, { now });
    await store.get(id, { now });
    await store.update(id, { contextSet: { b: 2 } }, { now });
    await store.append(id, 'history', [{ role: 'user', content: 'hi' }], {
      now,
      cap: 10,
      countMessages: true,
    });
    await store.read(id, 'history', { now });
    await store.list({ now, limit: 10 });
    await store.count({ now, owner: 'alice' });
    await store.stats(now);
    await store.sweep(now, { limit: 10 });
    result = { ok: true };
    break;
  }
  case 'hammer': {
    const id = String(args.id);
    const worker = Number(args.worker);
    const seqs: number[] = [];
    await waitUntil(Number(args.startAt));
    await pool(Number(args.count), Number(args.inFlight), async (i) => {
      const appended = await store.append(id, 'history', [{ worker, i }], {
        now,
        cap: Number(args.cap),
        countMessages: true,
      });
      seqs.push(appended.firstSeq);
      await store.update(id, { contextSet: { [`w${worker}-${i}`]: i } }, { now });
    });
    result = { seqs };
    break;
  }
  case 'cas': {
    const id = String(args.id);
    let conflicts = 0;
    await waitUntil(Number(args.startAt));
    for (let i = 0; i < Number(args.count); i++) {
      for (;;) {
        const current = await store.get(id, { now });
        if (!current) throw new Error('session vanished');
        try {
          await store.update(
            id,
            { contextSet: { counter: Number(current.context.counter) + 1 } },
            { now, expectedVersion: current.version },
          );
          break;
        } catch (error) {
          // Compared by code: the adapter may load its own copy of @mcp-session/core.
          if ((error as { code?: unknown }).code !== 'VERSION_CONFLICT') throw error;
          conflicts++;
        }
      }
    }
    result = { conflicts };
    break;
  }
  case 'messages': {
    // Subscribes to every channel, says so, publishes its own sequence back, leaves one channel after
    // its first message, and ends once every other channel has delivered the end marker.
    const bus = store.messages;
    if (!bus) throw new Error('the store has no message bus');
    const channels = args.channels as unknown as string[];
    const leaving = String(args.leaving);
    const worker = Number(args.worker);
    const received: Record<string, string[]> = {};
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const unsubscribers = new Map<string, () => Promise<void>>();
    const check = () => {
      const ended = channels.every(
        (channel) => channel === leaving || received[channel]?.includes('__end__'),
      );
      if (ended) finish();
    };
    for (const channel of channels) {
      received[channel] = [];
      const unsubscribe = await bus.subscribe(channel, (payload) => {
        received[channel]?.push(payload);
        if (channel === leaving && payload === 'before leaving') {
          void unsubscribers
            .get(leaving)?.()
            .then(() => bus.publish(String(args.ready), `left:${worker}`));
        }
        check();
      });
      unsubscribers.set(channel, unsubscribe);
    }
    await bus.publish(String(args.ready), `ready:${worker}`);
    for (let i = 0; i < Number(args.count); i++) {
      await bus.publish(String(args.back), `${worker}:${i}`);
    }
    // A polling bus's timer is unref'd (subscriptions alone never keep a process alive), so this task
    // holds the process open while it waits; the timer is cleared before close, which must then suffice.
    const keepAlive = setInterval(() => undefined, 1_000);
    await done;
    clearInterval(keepAlive);
    result = { received };
    break;
  }
  default:
    throw new Error(`Unknown child task "${task}"`);
}
await store.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
