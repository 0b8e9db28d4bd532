import { randomBytes } from 'node:crypto';
import type { MessageBus, SessionStore } from '@mcp-session/core';
import { expect } from 'vitest';
import type { ConformanceCase } from '../types.js';
import { expectCode, range } from './helpers.js';

/** How long a case waits for a message that must arrive; generous, as CI machines stall. */
const DELIVERY_WAIT_MS = 20_000;
/** Over Postgres's NOTIFY payload limit (8000 bytes), so that backend's large-message path is used. */
const OVER_NOTIFY_LIMIT = 8_001;

function busOf(store: SessionStore): MessageBus {
  if (!store.messages) {
    throw new Error('The store declares capabilities.messaging but has no `messages` bus');
  }
  return store.messages;
}

/** A channel name no other case (nor a leftover of an earlier run) uses. */
function freshChannel(label: string): string {
  return `suite:${label}:${randomBytes(6).toString('hex')}`;
}

/** Collects what one subscription receives. */
function collector(): { received: string[]; handler: (payload: string) => void } {
  const received: string[] = [];
  return { received, handler: (payload) => received.push(payload) };
}

/** Waits until `done()` holds, failing with `what` after `DELIVERY_WAIT_MS`. No timing is asserted. */
async function waitUntil(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + DELIVERY_WAIT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const END = '__end__';

export const messagingCases: ConformanceCase[] = [
  {
    group: 'messaging',
    name: 'every message reaches every subscription of its channel, in publish order',
    requires: 'messaging',
    async run(t) {
      const bus = busOf(t.store);
      const channel = freshChannel('order');
      const first = collector();
      const second = collector();
      await bus.subscribe(channel, first.handler);
      await bus.subscribe(channel, second.handler);
      const sent = range(100).map((i) => `message ${i}`);
      for (const payload of sent) await bus.publish(channel, payload);
      await waitUntil(
        () => first.received.length >= sent.length && second.received.length >= sent.length,
        'every message at both subscriptions',
      );
      expect(first.received).toEqual(sent);
      expect(second.received).toEqual(sent);
    },
  },
  {
    group: 'messaging',
    name: 'a publish right after subscribe resolved is delivered (subscribe resolves once live)',
    requires: 'messaging',
    async run(t) {
      const bus = busOf(t.store);
      for (const i of range(15)) {
        const channel = freshChannel(`live-${i}`);
        const { received, handler } = collector();
        await bus.subscribe(channel, handler);
        await bus.publish(channel, `first on ${i}`);
        await waitUntil(() => received.length > 0, `the first message on fresh channel ${i}`);
        expect(received).toEqual([`first on ${i}`]);
      }
    },
  },
  {
    group: 'messaging',
    name: 'nothing reaches another channel: channels that differ by case, trailing space or a prefix',
    requires: 'messaging',
    async run(t) {
      const bus = busOf(t.store);
      const base = freshChannel('exact');
      const neighbours = [
        base.toUpperCase(),
        `${base} `,
        base.slice(0, -1),
        `${base}:child`,
        `x${base}`,
      ];
      const target = collector();
      await bus.subscribe(base, target.handler);
      const others = new Map(neighbours.map((channel) => [channel, collector()]));
      for (const [channel, { handler }] of others) await bus.subscribe(channel, handler);
      await bus.publish(base, 'for the base channel only');
      // A last message on every neighbour: once each has arrived, anything misrouted would have too.
      for (const channel of neighbours) await bus.publish(channel, END);
      await bus.publish(base, END);
      await waitUntil(
        () =>
          target.received.includes(END) &&
          [...others.values()].every(({ received }) => received.includes(END)),
        'the last message on every channel',
      );
      expect(target.received).toEqual(['for the base channel only', END]);
      for (const [channel, { received }] of others) {
        expect(received, `channel ${JSON.stringify(channel)}`).toEqual([END]);
      }
    },
  },
  {
    group: 'messaging',
    name: 'nothing is delivered after unsubscribe; other subscriptions of the channel go on',
    requires: 'messaging',
    async run(t) {
      const bus = busOf(t.store);
      const channel = freshChannel('unsubscribe');
      const leaving = collector();
      const staying = collector();
      const unsubscribe = await bus.subscribe(channel, leaving.handler);
      const unsubscribeStaying = await bus.subscribe(channel, staying.handler);
      await bus.publish(channel, 'before');
      await waitUntil(() => leaving.received.length === 1, 'the message before unsubscribe');
      await unsubscribe();
      await unsubscribe();
      await bus.publish(channel, 'after');
      await waitUntil(() => staying.received.length === 2, 'the message after unsubscribe');
      expect(staying.received).toEqual(['before', 'after']);
      expect(leaving.received).toEqual(['before']);

      // The last subscription leaving, then a new one on the same channel.
      await unsubscribeStaying();
      const returning = collector();
      await bus.subscribe(channel, returning.handler);
      await bus.publish(channel, 'again');
      await waitUntil(() => returning.received.length === 1, 'the message to the new subscription');
      expect(returning.received).toEqual(['again']);
      expect(staying.received).toEqual(['before', 'after']);
      expect(leaving.received).toEqual(['before']);
    },
  },
  {
    group: 'messaging',
    name: `payloads arrive intact: empty, ${OVER_NOTIFY_LIMIT} bytes, Unicode and escapes, maxMessageBytes`,
    requires: 'messaging',
    timeout: 60_000,
    async run(t) {
      const bus = busOf(t.store);
      const channel = freshChannel('payloads');
      const { received, handler } = collector();
      await bus.subscribe(channel, handler);
      const tricky = 'quotes " \' backslash \\ newline \n tab \t emoji 🎉 中文 \u2028 $1 %s ';
      const payloads = [
        '',
        'x'.repeat(OVER_NOTIFY_LIMIT),
        tricky.repeat(Math.ceil(20_000 / tricky.length)),
        'y'.repeat(bus.maxMessageBytes),
        'short after long',
      ];
      for (const payload of payloads) await bus.publish(channel, payload);
      await waitUntil(() => received.length >= payloads.length, 'every payload');
      expect(received.map((p) => p.length)).toEqual(payloads.map((p) => p.length));
      expect(received).toEqual(payloads);
    },
  },
  {
    group: 'messaging',
    name: 'bad arguments are refused with INVALID_VALUE or PAYLOAD_TOO_LARGE and nothing is sent',
    requires: 'messaging',
    async run(t) {
      const bus = busOf(t.store);
      const channel = freshChannel('arguments');
      const { received, handler } = collector();
      await bus.subscribe(channel, handler);
      const badChannels: unknown[] = [
        '',
        'c'.repeat(257),
        'line\nbreak',
        'tab\there',
        'accent é',
        'nul\0',
        42,
        null,
        undefined,
      ];
      for (const bad of badChannels) {
        await expectCode(bus.publish(bad as string, 'x'), 'INVALID_VALUE');
        await expectCode(
          bus.subscribe(bad as string, () => undefined),
          'INVALID_VALUE',
        );
      }
      for (const bad of [
        42,
        null,
        undefined,
        { text: 'x' },
        'lone \ud800 surrogate',
        'nul \0 in',
      ]) {
        await expectCode(bus.publish(channel, bad as string), 'INVALID_VALUE');
      }
      await expectCode(
        bus.publish(channel, 'z'.repeat(bus.maxMessageBytes + 1)),
        'PAYLOAD_TOO_LARGE',
      );
      // Counted in UTF-8 bytes, not characters.
      await expectCode(
        bus.publish(channel, 'é'.repeat(Math.floor(bus.maxMessageBytes / 2) + 1)),
        'PAYLOAD_TOO_LARGE',
      );
      for (const bad of [undefined, 'handler', {}]) {
        await expectCode(bus.subscribe(channel, bad as () => void), 'INVALID_VALUE');
      }
      expect(
        t.store.capabilities.messaging,
        'a store with a bus declares capabilities.messaging',
      ).toBe(true);
      await bus.publish(channel, END);
      await waitUntil(() => received.includes(END), 'the message after the refused calls');
      expect(received).toEqual([END]);
    },
  },
  {
    group: 'messaging',
    name: 'after close publish and subscribe fail with STORE_CLOSED and no handler is called again',
    requires: 'messaging',
    async run(t) {
      const bus = busOf(t.store);
      const channel = freshChannel('closed');
      const { received, handler } = collector();
      const unsubscribe = await bus.subscribe(channel, handler);
      await t.store.close();
      await expectCode(bus.publish(channel, 'x'), 'STORE_CLOSED');
      await expectCode(
        bus.subscribe(channel, () => undefined),
        'STORE_CLOSED',
      );
      await unsubscribe();
      const reopened = await t.reopen();
      await busOf(reopened).publish(channel, 'after close');
      const { received: probe, handler: probeHandler } = collector();
      await busOf(reopened).subscribe(channel, probeHandler);
      await busOf(reopened).publish(channel, END);
      await waitUntil(() => probe.includes(END), 'a message on the reopened store');
      expect(received).toEqual([]);
    },
  },
  {
    group: 'messaging',
    name: 'two processes: every message reaches every live subscriber, in order, on its channel only; unsubscribe and close hold',
    requires: ['messaging', 'sharedAcrossProcesses', 'childModule'],
    timeout: 300_000,
    async run(t) {
      const bus = busOf(t.store);
      const tag = randomBytes(6).toString('hex');
      const main = `suite:x:${tag}`;
      const channels = {
        main,
        upper: main.toUpperCase(),
        padded: `${main} `,
        prefix: `${main}:sub`,
        leaving: `${main}.leaving`,
      };
      const ready = `suite:ready:${tag}`;
      const fromChildren = `suite:from:${tag}`;
      const readyCount = collector();
      const back = collector();
      const here = collector();
      await bus.subscribe(ready, readyCount.handler);
      await bus.subscribe(fromChildren, back.handler);
      await bus.subscribe(main, here.handler);
      const count = 150;
      const big = 'b'.repeat(OVER_NOTIFY_LIMIT + 10);
      const children = [0, 1].map((worker) =>
        t.child('messages', {
          channels: Object.values(channels),
          leaving: channels.leaving,
          ready,
          back: fromChildren,
          worker,
          count,
        }),
      );
      const finished = Promise.all(children);
      // A child that fails before it is ready must fail the case, not leave it waiting.
      let failure: unknown;
      finished.catch((error: unknown) => {
        failure = error;
      });
      await waitUntil(() => {
        if (failure) throw failure;
        return readyCount.received.filter((r) => r.startsWith('ready')).length === 2;
      }, 'both children subscribed');
      const sent = range(count).map((i) => `main ${i}`);
      await bus.publish(channels.leaving, 'before leaving');
      for (const payload of sent) await bus.publish(main, payload);
      await bus.publish(main, big);
      await waitUntil(
        () => readyCount.received.filter((r) => r.startsWith('left')).length === 2,
        'both children unsubscribed from the leaving channel',
      );
      await bus.publish(channels.leaving, 'after leaving');
      for (const channel of Object.values(channels)) {
        if (channel !== channels.leaving) await bus.publish(channel, END);
      }
      const results = (await finished) as { received: Record<string, string[]> }[];
      for (const { received } of results) {
        expect(received[main]).toEqual([...sent, big, END]);
        expect(received[channels.upper]).toEqual([END]);
        expect(received[channels.padded]).toEqual([END]);
        expect(received[channels.prefix]).toEqual([END]);
        expect(received[channels.leaving]).toEqual(['before leaving']);
      }
      await waitUntil(() => here.received.includes(END), 'the last message in this process');
      expect(here.received).toEqual([...sent, big, END]);
      await waitUntil(() => back.received.length >= 2 * count, 'every message from the children');
      // Each child published its own sequence back; each arrives in that child's order.
      for (const worker of [0, 1]) {
        expect(back.received.filter((p) => p.startsWith(`${worker}:`))).toEqual(
          range(count).map((i) => `${worker}:${i}`),
        );
      }
    },
  },
];
