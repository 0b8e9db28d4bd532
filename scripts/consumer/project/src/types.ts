// Compiled, not run: every public entry resolves, and the option types are the drivers' real ones, not
// `any` (a missing @types package would turn them into `any` with skipLibCheck, or fail without it).
import type { SessionStore } from '@mcp-session/core';
import { BaseSessionStore, readUrlOptions } from '@mcp-session/core/adapter';
import '@mcp-session/file/register';
import '@mcp-session/memory/register';
import '@mcp-session/postgres/register';
import '@mcp-session/redis/register';
import '@mcp-session/sqlite/register';
import { runCli } from '@mcp-session/cli';
import { FileSessionStore } from '@mcp-session/file';
import { MemorySessionStore } from '@mcp-session/memory';
import { PostgresSessionStore } from '@mcp-session/postgres';
import { RedisSessionStore } from '@mcp-session/redis';
import { SqliteSessionStore } from '@mcp-session/sqlite';
import { runStoreConformance } from '@mcp-session/test-suite';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';

export const entries: unknown[] = [
  BaseSessionStore,
  readUrlOptions,
  runCli,
  FileSessionStore,
  MemorySessionStore,
  RedisSessionStore,
  runStoreConformance,
];

export function typed(): SessionStore[] {
  return [
    new SqliteSessionStore({ database: new BetterSqlite3(':memory:') }),
    // @ts-expect-error a number is no database: only real better-sqlite3 types refuse it
    new SqliteSessionStore({ database: 42 }),
    new PostgresSessionStore({ connection: new pg.Pool({ max: 2 }) }),
    // @ts-expect-error a pool config has no such field: only real pg types refuse it
    new PostgresSessionStore({ connection: { maxConnections: 2 } }),
  ];
}
