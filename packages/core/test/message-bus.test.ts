import { describe, expect, it, vi } from 'vitest';
import {
  BaseMessageBus,
  checkPublishArgs,
  DEFAULT_MAX_MESSAGE_BYTES,
  isSessionError,
} from '../src/adapter.js';

/** A bus whose engine records its calls, delivers what is published, and can be made to fail or wait. */
class RecordingBus extends BaseMessageBus {
  readonly calls: string[] = [];
  failNext: Error | undefined;
  gate: Promise<void> = Promise.resolve();

  constructor(maxMessageBytes?: number) {
    super({ backend: 'Test', ...(maxMessageBytes === undefined ? {} : { maxMessageBytes }) });
  }

  protected async sendMessage(channel: string, payload: string): Promise<void> {
    this.#maybeFail();
    this.calls.push(`send ${channel}`);
    queueMicrotask(() => this.deliver(channel, payload));
  }

  protected async startListening(channel: string): Promise<void> {
    await this.gate;
    this.#maybeFail();
    this.calls.push(`listen ${channel}`);
  }

  protected async stopListening(channel: string): Promise<void> {
    this.calls.push(`unlisten ${channel}`);
  }

  protected async releaseBus(): Promise<void> {
    this.calls.push('release');
  }

  #maybeFail(): void {
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) throw failure;
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('BaseMessageBus', () => {
  it('listens once per channel: concurrent subscribes both wait until the engine listens', async () => {
    const bus = new RecordingBus();
    let open: () => void = () => undefined;
    bus.gate = new Promise((resolve) => (open = resolve));
    let settled = 0;
    const counted = <T>(value: T): T => {
      settled++;
      return value;
    };
    const first = bus.subscribe('c', () => undefined).then(counted);
    const second = bus.subscribe('c', () => undefined).then(counted);
    await flush();
    expect(settled).toBe(0);
    open();
    const [unsubscribeFirst, unsubscribeSecond] = await Promise.all([first, second]);
    expect(bus.calls).toEqual(['listen c']);
    await unsubscribeFirst();
    expect(bus.calls).toEqual(['listen c']);
    await unsubscribeSecond();
    await unsubscribeSecond();
    expect(bus.calls).toEqual(['listen c', 'unlisten c']);
  });

  it('a subscribe racing the last unsubscribe of its channel ends up listening', async () => {
    const bus = new RecordingBus();
    const unsubscribe = await bus.subscribe('c', () => undefined);
    const received: string[] = [];
    const [, again] = await Promise.all([
      unsubscribe(),
      bus.subscribe('c', (p) => received.push(p)),
    ]);
    await bus.publish('c', 'still here');
    await flush();
    expect(received).toEqual(['still here']);
    await again();
  });

  it('a failed listen is STORE_UNAVAILABLE naming the backend, and leaves no handler behind', async () => {
    const bus = new RecordingBus();
    const handler = vi.fn();
    bus.failNext = new Error('connection refused');
    const error = await bus.subscribe('c', handler).catch((e: unknown) => e);
    expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toBe('Test message subscribe failed: connection refused');
    await bus.publish('c', 'x');
    await flush();
    expect(handler).not.toHaveBeenCalled();
  });

  it('a handler that throws is reported without the payload and the others still get the message', async () => {
    const bus = new RecordingBus();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const received: string[] = [];
      await bus.subscribe('c', () => {
        throw new Error('handler broke');
      });
      await bus.subscribe('c', (payload) => received.push(payload));
      await bus.publish('c', 'secret payload');
      await vi.waitFor(() => expect(warnings).toHaveLength(1));
      expect(received).toEqual(['secret payload']);
      expect(warnings[0]).toBe('A message handler threw: handler broke');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('after close: STORE_CLOSED, no handler called, the engine released once', async () => {
    const bus = new RecordingBus();
    const handler = vi.fn();
    const unsubscribe = await bus.subscribe('c', handler);
    const publishing = bus.publish('c', 'in flight');
    await Promise.all([bus.close(), bus.close()]);
    await publishing;
    await flush();
    expect(handler).not.toHaveBeenCalled();
    for (const call of [bus.publish('c', 'x'), bus.subscribe('c', handler)]) {
      const error = await call.then(
        () => null,
        (e: unknown) => e,
      );
      expect(isSessionError(error, 'STORE_CLOSED')).toBe(true);
    }
    await unsubscribe();
    expect(bus.calls.filter((c) => c === 'release')).toHaveLength(1);
  });

  it('counts the payload limit in UTF-8 bytes and never echoes the payload', () => {
    expect(DEFAULT_MAX_MESSAGE_BYTES).toBe(1_048_576);
    expect(() => checkPublishArgs('c', 'é'.repeat(6), 12)).not.toThrow();
    const tooLarge = (() => {
      try {
        checkPublishArgs('c', 'é'.repeat(7), 12);
      } catch (error) {
        return error as Error;
      }
    })();
    expect(isSessionError(tooLarge, 'PAYLOAD_TOO_LARGE')).toBe(true);
    expect(tooLarge?.message).not.toContain('é');
    expect(() => new RecordingBus(0)).toThrow(/maxMessageBytes must be a positive whole number/);
  });
});
