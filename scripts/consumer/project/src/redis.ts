import { randomBytes } from 'node:crypto';
import { createStore } from '@mcp-session/core';
import { Redis } from 'ioredis';
import { smoke } from './smoke.js';

const base = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `consumer-${randomBytes(6).toString('hex')}`;
try {
  await smoke('redis', await createStore(`${base.replace(/\/$/, '')}/0?prefix=${prefix}`));
} finally {
  const admin = new Redis(base);
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    if (keys.length > 0) await admin.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await admin.quit();
}
