import { BaseMessageBus } from '@mcp-session/core/adapter';

/**
 * The memory store's bus: in-process, so it reaches the subscribers of this store only. Delivery is one
 * microtask after `publish` resolves; microtasks run in order, so per-channel order holds.
 */
export class MemoryMessageBus extends BaseMessageBus {
  constructor(maxMessageBytes?: number) {
    super({ backend: 'Memory', ...(maxMessageBytes === undefined ? {} : { maxMessageBytes }) });
  }

  protected async sendMessage(channel: string, payload: string): Promise<void> {
    queueMicrotask(() => this.deliver(channel, payload));
  }

  protected async startListening(): Promise<void> {}

  protected async stopListening(): Promise<void> {}

  protected async releaseBus(): Promise<void> {}
}
