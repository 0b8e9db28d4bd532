import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionWorkload, Target } from '../workload.js';

const TTL_MS = 30 * 60_000;

interface RecordFile {
  state: string;
  context: Record<string, number>;
  expiresAt: number;
  version: number;
  messageCount: number;
}

/**
 * The ceiling for files with the same durability as the store: a record rewritten through a temp file,
 * fsync and rename; history appended to a JSON Lines file with fsync. No locks, no validation.
 */
export function rawFileTarget(): Target {
  return {
    backend: 'file',
    kind: 'raw',
    async open() {
      const directory = mkdtempSync(join(tmpdir(), 'bench-raw-file-'));
      let now = Date.now();
      const recordPath = (id: string) => join(directory, `${id}.json`);
      const logPath = (id: string) => join(directory, `${id}.jsonl`);
      const writeRecord = async (id: string, record: RecordFile) => {
        const temp = `${recordPath(id)}.${randomBytes(4).toString('hex')}.tmp`;
        const handle = await open(temp, 'w');
        await handle.writeFile(JSON.stringify(record));
        await handle.sync();
        await handle.close();
        await rename(temp, recordPath(id));
      };
      const readRecord = async (id: string) =>
        JSON.parse(await readFile(recordPath(id), 'utf8')) as RecordFile;
      const create = async () => {
        const id = randomBytes(24).toString('base64url');
        await writeRecord(id, {
          state: 'active',
          context: {},
          expiresAt: now + TTL_MS,
          version: 1,
          messageCount: 0,
        });
        return id;
      };
      const workload: SessionWorkload = {
        create,
        get: readRecord,
        setContextKey: async (id, key, value) => {
          const record = await readRecord(id);
          record.context[key] = value;
          record.version++;
          await writeRecord(id, record);
        },
        append: async (id, message) => {
          const handle = await open(logPath(id), 'a');
          await handle.write(`${JSON.stringify(message)}\n`);
          await handle.sync();
          await handle.close();
        },
        readLast20: async (id) => {
          // The tail of the file holds the newest lines; 64 KiB covers 20 messages of the workload.
          const handle = await open(logPath(id), 'r');
          const { size } = await handle.stat();
          const length = Math.min(size, 65_536);
          const { buffer } = await handle.read(Buffer.alloc(length), 0, length, size - length);
          await handle.close();
          return buffer
            .toString('utf8')
            .trimEnd()
            .split('\n')
            .slice(-20)
            .map((line) => JSON.parse(line));
        },
        transition: async (id, to) => {
          const record = await readRecord(id);
          record.state = to;
          record.version++;
          await writeRecord(id, record);
        },
        seedExpired: async (count) => {
          for (let i = 0; i < count; i++) await create();
        },
        expireAll: async () => {
          now += 2 * TTL_MS;
        },
        sweep: async () => {
          let deleted = 0;
          for (const name of await readdir(directory)) {
            if (!name.endsWith('.json')) continue;
            const id = name.slice(0, -'.json'.length);
            if ((await readRecord(id)).expiresAt > now) continue;
            await unlink(recordPath(id));
            await unlink(logPath(id)).catch(() => undefined);
            deleted++;
          }
          return deleted;
        },
        close: async () => rmSync(directory, { recursive: true, force: true }),
      };
      return workload;
    },
  };
}
