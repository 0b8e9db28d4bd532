import { randomBytes } from 'node:crypto';
import type { BenchMessage, SessionWorkload } from '../workload.js';

/** What a generic key-value store offers: whole values by key, with a time to live. */
export interface BlobStore {
  get(key: string): Promise<SessionBlob | undefined>;
  set(key: string, value: SessionBlob, ttlMs: number): Promise<void>;
  close(): Promise<void>;
  /** Makes every entry expired and deletes them with the store's own prune, when it has one. */
  prune?: { expireAll(): Promise<void>; prune(): Promise<number> };
}

export interface SessionBlob {
  state: 'active' | 'idle';
  context: Record<string, number>;
  history: BenchMessage[];
  messageCount: number;
  version: number;
  createdAt: number;
}

const TTL_MS = 30 * 60_000;

/**
 * The session workload as generic stores force it: read the whole session, change it in JavaScript,
 * write it all back. Nothing stops two writers from overwriting each other; the benchmark only measures
 * the cost.
 */
export class BlobWorkload implements SessionWorkload {
  readonly expireAll?: () => Promise<void>;
  readonly sweep?: () => Promise<number>;

  constructor(private readonly store: BlobStore) {
    if (store.prune) {
      this.expireAll = store.prune.expireAll;
      this.sweep = store.prune.prune;
    }
  }

  async create() {
    const id = randomBytes(24).toString('base64url');
    await this.store.set(
      id,
      {
        state: 'active',
        context: {},
        history: [],
        messageCount: 0,
        version: 1,
        createdAt: Date.now(),
      },
      TTL_MS,
    );
    return id;
  }
  get(id: string) {
    return this.store.get(id);
  }
  async setContextKey(id: string, key: string, value: number) {
    await this.#change(id, (blob) => {
      blob.context[key] = value;
    });
  }
  async append(id: string, message: BenchMessage, cap: number | undefined) {
    await this.#change(id, (blob) => {
      blob.history.push(message);
      if (cap !== undefined && blob.history.length > cap)
        blob.history.splice(0, blob.history.length - cap);
      blob.messageCount++;
    });
  }
  async readLast20(id: string) {
    return (await this.store.get(id))?.history.slice(-20);
  }
  async transition(id: string, to: 'idle' | 'active') {
    await this.#change(id, (blob) => {
      blob.state = to;
    });
  }
  async seedExpired(count: number) {
    for (let i = 0; i < count; i++) await this.create();
  }
  close() {
    return this.store.close();
  }

  async #change(id: string, change: (blob: SessionBlob) => void): Promise<void> {
    const blob = await this.store.get(id);
    if (!blob) throw new Error(`session ${id} vanished`);
    change(blob);
    blob.version++;
    await this.store.set(id, blob, TTL_MS);
  }
}
