import { randomBytes } from 'node:crypto';
import { createStore } from '@mcp-session/core';
import pg from 'pg';
import { smoke } from './smoke.js';

const base = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `consumer_${randomBytes(6).toString('hex')}`;
try {
  await smoke('postgres', await createStore(`${base}?schema=${schema}`));
} finally {
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
}
