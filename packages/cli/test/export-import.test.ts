import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogEntry } from '@mcp-session/core';
import { freshDirectory } from '@mcp-session/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/stores.js';
import {
  BACKENDS,
  beforeAllValue,
  cli,
  cliJson,
  expectedLive,
  itemAt,
  makeSession,
  openSqlite,
  runInProcess,
  seed,
  snapshot,
  sqliteUrl,
} from './helpers.js';

interface ImportJson {
  imported: number;
  alreadyPresent: number;
  expired: number;
  conflicts: { id: string; line: number; reason: string }[];
  lines: number;
  ok: boolean;
}

const dir = freshDirectory('cli-export');
afterAll(() => dir.remove());

const sourceUrl = sqliteUrl(dir.path, 'source.db');
const now = Date.now();
const seeded = Array.from({ length: 300 }, (_, i) => makeSession(i, now));
/** Sessions with an extra log, by storage id: only exported with `--log events`. */
const events = new Map<string, LogEntry[]>();

beforeAll(async () => {
  const source = openSqlite(sourceUrl);
  await seed(source, seeded);
  const withEvents = seeded.slice(0, 40).filter((s) => live().has(s.record.id));
  for (const { record } of withEvents) {
    const entries = [{ seq: 1, at: now, data: { event: 'message', id: record.id.slice(0, 8) } }];
    await source.append(
      record.id,
      'events',
      entries.map((e) => e.data),
      { now },
    );
    record.version += 1; // every write bumps the version
    events.set(record.id, entries);
  }
  await source.close();
});

const live = () => expectedLive(seeded, now);

describe('export', () => {
  it('writes a header, then one line per live session with its history; -o appears only when complete', async () => {
    const file = join(dir.path, 'all.ndjson');
    const summary = await cliJson<Record<string, unknown>>([
      'export',
      '--store',
      sourceUrl,
      '-o',
      file,
    ]);
    expect(summary).toEqual({
      exported: live().size,
      vanished: 0,
      logs: ['history'],
      output: file,
    });
    expect(readdirSync(dir.path).filter((name) => name.includes('.partial'))).toEqual([]);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(JSON.parse(itemAt(lines, 0))).toEqual({
      format: 'mcp-session-export',
      version: 1,
      exportedAt: expect.any(Number),
      source: sourceUrl,
      logs: ['history'],
    });
    expect(lines).toHaveLength(live().size + 1);
    const exported = new Map(
      lines.slice(1).map((line) => {
        const parsed = JSON.parse(line) as {
          record: { id: string };
          logs: Record<string, LogEntry[]>;
        };
        return [parsed.record.id, parsed];
      }),
    );
    for (const [id, expected] of live()) {
      expect(exported.get(id)).toEqual({
        record: expected.record,
        logs: expected.history.length > 0 ? { history: expected.history } : {},
      });
    }
  });

  it('exports the logs named with --log and filters by --state', async () => {
    const run = await cli(['export', '--store', sourceUrl, '--log', 'events', '--state', 'idle']);
    expect(run.code).toBe(0);
    const lines = run.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0].logs).toEqual(['history', 'events']);
    const idle = [...live().values()].filter((s) => s.record.state === 'idle');
    expect(
      lines
        .slice(1)
        .map((l) => l.record.id)
        .sort(),
    ).toEqual(idle.map((s) => s.record.id).sort());
    for (const line of lines.slice(1)) {
      expect(line.logs.events).toEqual(events.get(line.record.id));
    }
    expect(run.stderr).toContain(`Exported ${idle.length} sessions.`);
  });

  it('fails with exit 1 and leaves no file when the output cannot be written', async () => {
    const file = join(dir.path, 'missing-dir', 'out.ndjson');
    const run = await cli(['export', '--store', sourceUrl, '-o', file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^mcp-session export: ENOENT/);
    expect(existsSync(join(dir.path, 'missing-dir'))).toBe(false);
  });
});

describe.each(BACKENDS)('import into $name', (backend) => {
  const target = beforeAllValue(async (cleanups) => {
    const { url, drop } = backend.fresh();
    cleanups.push(drop);
    const store = await openStore(url);
    cleanups.push(() => store.close());
    return { url, store };
  });

  it('export | import round-trips every record, history and extra log exactly', async () => {
    const { url, store } = target();
    const exported = await cli(['export', '--store', sourceUrl, '--log', 'events']);
    expect(exported.code).toBe(0);
    const imported = await cli(['import', '--store', url, '--json'], {
      input: exported.stdout,
    });
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.stdout)).toEqual({
      imported: live().size,
      alreadyPresent: 0,
      expired: 0,
      conflicts: [],
      lines: live().size + 1,
      ok: true,
    });
    const checkAt = Date.now();
    expect(await snapshot(store, checkAt)).toEqual(live());
    for (const [id, entries] of events) {
      if (!live().has(id)) continue;
      expect(await store.read(id, 'events', { now: checkAt })).toEqual(entries);
    }
  });

  it('importing again skips what is there; a changed session is a conflict, never overwritten', async () => {
    const { url, store } = target();
    const file = join(dir.path, `again-${backend.name}.ndjson`);
    expect((await cli(['export', '--store', sourceUrl, '-o', file])).code).toBe(0);
    const again = await cliJson<ImportJson>(['import', file, '--store', url]);
    expect(again).toMatchObject({
      imported: 0,
      alreadyPresent: live().size,
      conflicts: [],
      ok: true,
    });

    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const changed = JSON.parse(itemAt(lines, 3));
    changed.record.version += 5;
    changed.record.context = { overwritten: true };
    lines[3] = JSON.stringify(changed);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const run = await cli(['import', file, '--store', url, '--json']);
    expect(run.code).toBe(1);
    const summary = JSON.parse(run.stdout) as ImportJson;
    expect(summary.ok).toBe(false);
    expect(summary.conflicts).toEqual([
      {
        id: changed.record.id,
        line: 4,
        reason: expect.stringContaining(`the source version ${changed.record.version}`),
      },
    ]);
    expect(run.stderr).toContain('were not overwritten');
    expect((await store.get(changed.record.id, { now: Date.now() }))?.context).toEqual(
      live().get(changed.record.id)?.record.context,
    );
  });
});

// The line checks run in-process through runCli: they exercise the CLI's parsing, not the binary.
describe('import checks every line', () => {
  const header = JSON.stringify({
    format: 'mcp-session-export',
    version: 1,
    exportedAt: 1,
    source: 'x',
    logs: ['history'],
  });
  // Built once: session ids are random, and the tests compare what was stored with these lines.
  const goods = Array.from({ length: 5 }, (_, i) => {
    const { record, history } = makeSession(1000 + i * 5 + 1, Date.now());
    return JSON.stringify({ record: { ...record, expiresAt: null }, logs: { history } });
  });
  const good = (i: number) => itemAt(goods, i);
  const withRecord = (change: (record: Record<string, unknown>) => void) => {
    const line = JSON.parse(good(3));
    change(line.record);
    return JSON.stringify(line);
  };

  it.each([
    ['broken JSON', '{"record":', /not valid JSON/],
    ['a missing field', withRecord((r) => delete r.version), /"record.version" is missing/],
    [
      'an unknown state',
      withRecord((r) => {
        r.state = 'zombie';
      }),
      /"record.state" must be one of/,
    ],
    [
      'a negative message count',
      withRecord((r) => {
        r.messageCount = -1;
      }),
      /"record.messageCount" must be an integer of at least 0/,
    ],
    [
      'an unknown field',
      withRecord((r) => {
        r.extra = 1;
      }),
      /unexpected field "record.extra"/,
    ],
    [
      'a __proto__ key',
      good(3).replace('"context":{', '"context":{"__proto__":{"polluted":true},'),
      /"__proto__" is not allowed/,
    ],
    [
      'a gap in the seqs',
      good(3).replace('"seq":2,', '"seq":7,'),
      /seqs must be consecutive positive integers/,
    ],
    [
      'a NUL character in a message',
      good(3).replace('"content":"message 0', '"content":"\\u0000message 0'),
      /NUL character/,
    ],
    [
      'a bad id',
      withRecord((r) => {
        r.id = 'has space';
      }),
      /visible ASCII/,
    ],
  ])('stops at %s, names the line and what was imported before it', async (_, bad, message) => {
    const url = sqliteUrl(dir.path, `bad-${Math.random().toString(36).slice(2)}.db`);
    const input = [header, good(0), good(1), good(2), bad, good(4)].join('\n');
    const run = await runInProcess(['import', '--store', url, '--concurrency', '2'], { input });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^mcp-session import: line 5: /);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain(
      '3 sessions were imported before it stopped; nothing from line 5 on was imported.',
    );
    const store = openSqlite(url);
    const stored = await snapshot(store, Date.now());
    await store.close();
    expect([...stored.keys()].sort()).toEqual(
      [good(0), good(1), good(2)].map((line) => JSON.parse(line).record.id).sort(),
    );
  });

  it.each([
    ['empty input', '', /line 1: the input is empty/],
    ['no header', good(0), /line 1: not an mcp-session export/],
    [
      'a newer format version',
      header.replace('"version":1', '"version":2'),
      /line 1: export format version 2 is not supported/,
    ],
  ])('rejects %s at line 1', async (_, input, message) => {
    const run = await runInProcess(['import', '--store', sqliteUrl(dir.path, 'header.db')], {
      input,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
  });

  it('skips sessions that have expired by now, and reads a file argument', async () => {
    const file = join(dir.path, 'expired.ndjson');
    const expired = JSON.parse(good(0));
    expired.record.expiresAt = Date.now() - 1000;
    writeFileSync(file, [header, JSON.stringify(expired), good(1), ''].join('\n'));
    const summary = await cliJson<ImportJson>([
      'import',
      file,
      '--store',
      sqliteUrl(dir.path, 'expired.db'),
    ]);
    expect(summary).toMatchObject({ imported: 1, expired: 1, ok: true });
    const missing = await cli([
      'import',
      join(dir.path, 'nope.ndjson'),
      '--store',
      sqliteUrl(dir.path, 'expired.db'),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/ENOENT/);
  });
});
