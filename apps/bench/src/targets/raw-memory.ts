import { randomBytes } from 'node:crypto';
import type { BenchMessage, SessionWorkload, Target } from '../workload.js';

const TTL_MS = 30 * 60_000;

interface Row {
  state: string;
  context: Record<string, number>;
  expiresAt: number;
  version: number;
  messageCount: number;
  history: BenchMessage[];
}

/** The ceiling in process memory: a Map of plain objects, no validation, no copies. */
export function rawMemoryTarget(): Target {
  return {
    backend: 'memory',
    kind: 'raw',
    async open() {
      const rows = new Map<string, Row>();
      let now = Date.now();
      const create = async () => {
        const id = randomBytes(24).toString('base64url');
        rows.set(id, {
          state: 'active',
          context: {},
          expiresAt: now + TTL_MS,
          version: 1,
          messageCount: 0,
          history: [],
        });
        return id;
      };
      const row = (id: string) => rows.get(id) as Row;
      const workload: SessionWorkload = {
        create,
        get: async (id) => row(id),
        setContextKey: async (id, key, value) => {
          const r = row(id);
          r.context[key] = value;
          r.version++;
        },
        append: async (id, message, cap) => {
          const r = row(id);
          r.history.push(message);
          if (cap !== undefined && r.history.length > cap)
            r.history.splice(0, r.history.length - cap);
          r.messageCount++;
          r.version++;
        },
        readLast20: async (id) => row(id).history.slice(-20),
        transition: async (id, to) => {
          const r = row(id);
          if (r.state !== (to === 'idle' ? 'active' : 'idle')) throw new Error('lost race');
          r.state = to;
          r.version++;
        },
        seedExpired: async (count) => {
          for (let i = 0; i < count; i++) await create();
        },
        expireAll: async () => {
          now += 2 * TTL_MS;
        },
        sweep: async () => {
          let deleted = 0;
          for (const [id, r] of rows) {
            if (r.expiresAt <= now) {
              rows.delete(id);
              deleted++;
            }
          }
          return deleted;
        },
        close: async () => rows.clear(),
      };
      return workload;
    },
  };
}
