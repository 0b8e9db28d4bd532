import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { SessionWorkload, Target } from '../workload.js';

const TTL_MS = 30 * 60_000;

const APPEND = `
local count = redis.call('HINCRBY', KEYS[1], 'message_count', 1)
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('RPUSH', KEYS[2], ARGV[1])
if ARGV[2] ~= '' then redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1) end
redis.call('PEXPIREAT', KEYS[2], ARGV[3])
return count`;

const TRANSITION = `
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'version', 1)
return 1`;

/**
 * The ceiling for Redis: one round trip per operation on ioredis (a MULTI or one Lua script where
 * several keys change), one hash and one list per session, no validation.
 */
export function rawRedisTarget(url: string): Target {
  return {
    backend: 'redis',
    kind: 'raw',
    async open() {
      const redis = new Redis(url, { lazyConnect: false });
      const prefix = `bench-raw-${randomBytes(4).toString('hex')}`;
      const key = (id: string, part: string) => `${prefix}:{${id}}:${part}`;
      const expiry = `${prefix}:expiry`;
      redis.defineCommand('benchAppend', { numberOfKeys: 2, lua: APPEND });
      redis.defineCommand('benchTransition', { numberOfKeys: 1, lua: TRANSITION });
      let now = Date.now();
      const create = async () => {
        const id = randomBytes(24).toString('base64url');
        await redis
          .multi()
          .hset(key(id, 's'), 'state', 'active', 'version', 1, 'message_count', 0)
          .pexpireat(key(id, 's'), now + TTL_MS + 60 * TTL_MS)
          .zadd(expiry, now + TTL_MS, id)
          .exec();
        return id;
      };
      const commands = redis as unknown as {
        benchAppend(
          k1: string,
          k2: string,
          data: string,
          cap: string,
          expireAt: number,
        ): Promise<number>;
        benchTransition(k1: string, to: string, from: string): Promise<number>;
      };
      const workload: SessionWorkload = {
        create,
        get: (id) => redis.hgetall(key(id, 's')),
        setContextKey: (id, name, value) =>
          redis
            .multi()
            .hset(key(id, 's'), `ctx:${name}`, value)
            .hincrby(key(id, 's'), 'version', 1)
            .exec(),
        append: (id, message, cap) =>
          commands.benchAppend(
            key(id, 's'),
            key(id, 'h'),
            JSON.stringify(message),
            cap === undefined ? '' : String(cap),
            now + 61 * TTL_MS,
          ),
        readLast20: async (id) =>
          (await redis.lrange(key(id, 'h'), -20, -1)).map((entry) => JSON.parse(entry)),
        transition: async (id, to) => {
          if (
            (await commands.benchTransition(
              key(id, 's'),
              to,
              to === 'idle' ? 'active' : 'idle',
            )) !== 1
          ) {
            throw new Error('lost race');
          }
        },
        seedExpired: async (count) => {
          for (let i = 0; i < count; i += 500) {
            const batch = redis.pipeline();
            for (let j = i; j < Math.min(count, i + 500); j++) {
              const id = randomBytes(24).toString('base64url');
              batch.hset(key(id, 's'), 'state', 'active', 'version', 1, 'message_count', 0);
              batch.zadd(expiry, now + TTL_MS, id);
            }
            await batch.exec();
          }
        },
        expireAll: async () => {
          now += 2 * TTL_MS;
        },
        sweep: async () => {
          let total = 0;
          for (;;) {
            const ids = await redis.zrangebyscore(expiry, '-inf', now, 'LIMIT', 0, 1000);
            if (ids.length === 0) return total;
            const batch = redis.pipeline();
            for (const id of ids) batch.unlink(key(id, 's'), key(id, 'h'));
            batch.zrem(expiry, ...ids);
            await batch.exec();
            total += ids.length;
          }
        },
        close: async () => {
          let cursor = '0';
          do {
            const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
            if (keys.length > 0) await redis.unlink(...keys);
            cursor = next;
          } while (cursor !== '0');
          redis.disconnect();
        },
      };
      return workload;
    },
  };
}
