import { createStore, ManualClock, SessionManager } from '@mcp-session/core';
import { SessionEventStore } from '@mcp-session/mcp';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import type { EventStore } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { type Measurement, measureFor } from '../measure.js';

export interface EventStoreResult {
  name: string;
  /** Events already stored when the replay is measured. */
  events: number;
  store: Measurement;
  /** Replaying the second half of one stream of ten. */
  replay: Measurement;
  replayed: number;
}

const STREAMS = 10;

function notification(i: number): JSONRPCMessage {
  return {
    jsonrpc: '2.0',
    method: 'notifications/progress',
    params: { progressToken: 't', progress: i, total: 1_000_000 },
  };
}

/**
 * Store + replay through the SDK's `EventStore` interface: the SDK's example `InMemoryEventStore` against
 * ours over a store URL. Events go round-robin to ten streams; the replay resumes one stream from its
 * middle.
 */
export async function eventStoreBench(
  name: string,
  open: () => Promise<{ eventStore: EventStore; close(): Promise<void> }>,
  events: number,
  durationMs: number,
): Promise<EventStoreResult> {
  const { eventStore, close } = await open();
  try {
    const idsOfStream0: string[] = [];
    let stored = 0;
    const store = await measureFor(
      async (i) => {
        const id = await eventStore.storeEvent(`stream-${i % STREAMS}`, notification(i));
        if (i % STREAMS === 0) idsOfStream0.push(id);
        stored++;
      },
      { durationMs, concurrency: 1, minOps: events, maxOps: events },
    );
    const middle = idsOfStream0[Math.floor(idsOfStream0.length / 2)] as string;
    let replayed = 0;
    const replay = await measureFor(
      async () => {
        replayed = 0;
        await eventStore.replayEventsAfter(middle, {
          send: async () => {
            replayed++;
          },
        });
      },
      { durationMs, concurrency: 1, minOps: 5 },
    );
    return { name, events: stored, store, replay, replayed };
  } finally {
    await close();
  }
}

/** Ours: one `SessionEventStore` for one session in a store opened from `url`, capped above `events`. */
export function sessionEventStore(url: () => Promise<string> | string, events: number) {
  return async () => {
    const manager = new SessionManager({
      store: await createStore(await url()),
      clock: new ManualClock(),
    });
    const { id } = await manager.createSession();
    const eventStore = new SessionEventStore(manager, id, null, { maxEventsPerStream: events });
    return { eventStore, close: () => manager.close() };
  };
}

/** The SDK's example in-memory event store. */
export async function sdkInMemoryEventStore() {
  return { eventStore: new InMemoryEventStore(), close: async () => undefined };
}
