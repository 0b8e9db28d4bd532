import { describe, expect, it } from 'vitest';
import { Progress } from '../src/output/progress.js';
import { renderTable } from '../src/output/table.js';
import {
  formatCount,
  formatDuration,
  formatExpiry,
  formatRelative,
  parseDuration,
} from '../src/output/times.js';
import { canonicalJson, compareSessions } from '../src/transfer.js';

describe('times', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [12_400, '12s'],
    [5 * 60_000 + 3_000, '5m 03s'],
    [2 * 3_600_000 + 7 * 60_000, '2h 07m'],
    [3 * 86_400_000 + 4 * 3_600_000, '3d 04h'],
  ])('formatDuration(%d) is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('formatRelative says ago / in with one unit, rounded down', () => {
    const now = 1_000_000_000_000;
    expect(formatRelative(now, now)).toBe('just now');
    expect(formatRelative(now - 59_999, now)).toBe('59s ago');
    expect(formatRelative(now + 90_000, now)).toBe('in 1m');
    expect(formatRelative(now - 3 * 3_600_000, now)).toBe('3h ago');
    expect(formatRelative(now + 47 * 3_600_000, now)).toBe('in 1d');
    expect(formatRelative(now - 800 * 86_400_000, now)).toBe('2y ago');
    expect(formatExpiry(null, now)).toBe('never');
    expect(formatExpiry(now - 5 * 60_000, now)).toBe('expired 5m ago');
    expect(formatExpiry(now, now)).toBe('expired just now');
  });

  it('parseDuration reads ms, s, m, h, d and rejects the rest', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration('250')).toBe(250);
    for (const bad of ['', 'h', '-1h', '1 week', '1e3s', '1h30m'])
      expect(parseDuration(bad)).toBeNull();
  });

  it('formatCount groups digits', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(1000)).toBe('1,000');
    expect(formatCount(-1234567)).toBe('-1,234,567');
    expect(formatCount(12345.5)).toBe('12,345.5');
  });
});

describe('renderTable', () => {
  it('pads columns, right-aligns numbers, clips long cells and trims line ends', () => {
    const rows = [
      { id: 'a', owner: 'somebody-with-a-long-name', n: 5 },
      { id: 'bbbb', owner: '-', n: 1234 },
    ];
    expect(
      renderTable(
        [
          { header: 'id', cell: (r: (typeof rows)[number]) => r.id },
          { header: 'n', cell: (r) => String(r.n), right: true },
          { header: 'owner', cell: (r) => r.owner, maxWidth: 10 },
        ],
        rows,
      ),
    ).toBe(['ID       N  OWNER', 'a        5  somebody-…', 'bbbb  1234  -'].join('\n'));
  });
});

describe('Progress', () => {
  function harness(isTTY: boolean, total: number | null) {
    let time = 0;
    const written: string[] = [];
    const progress = new Progress(
      { isTTY, columns: 200, write: (text: string) => written.push(text) },
      'copy',
      { total, enabled: true, now: () => time },
    );
    return { progress, written, tick: (ms: number) => (time += ms) };
  }

  it('on a terminal redraws one line with a bar, count, rate and ETA, at most every 100 ms', () => {
    const { progress, written, tick } = harness(true, 1000);
    tick(1000);
    progress.add(250);
    expect(written).toEqual([
      '\r\x1b[2Kcopy: [######------------------] 250/1,000 25% 250/s ETA 3s',
    ]);
    tick(50);
    progress.add(10);
    expect(written).toHaveLength(1);
    tick(950);
    progress.add(240);
    expect(written.at(-1)).toBe(
      '\r\x1b[2Kcopy: [############------------] 500/1,000 50% 250/s ETA 2s',
    );
    progress.finish();
    expect(written.at(-1)).toBe('\r\x1b[2Kcopy: 500 done in 2s (250/s)\n');
  });

  it('elsewhere prints nothing in the first second, then a plain line per tenth and every 5 s', () => {
    const { progress, written, tick } = harness(false, 100);
    progress.add(30);
    tick(500);
    progress.add(5);
    expect(written).toEqual([]);
    tick(500);
    progress.add(1);
    expect(written).toEqual(['copy: 36/100 36% 36/s ETA 1s\n']);
    progress.add(3);
    expect(written).toHaveLength(1);
    progress.add(1);
    expect(written.at(-1)).toBe('copy: 40/100 40% 40/s ETA 1s\n');
    tick(5000);
    progress.add(1);
    expect(written.at(-1)).toBe('copy: 41/100 41% 7/s ETA 8s\n');
    progress.add(59);
    expect(written).toHaveLength(3);
    progress.finish();
    expect(written.at(-1)).toBe('copy: 100 done in 6s (17/s)\n');
  });

  it('without a total shows the count and rate only; disabled, it writes nothing', () => {
    const { progress, written, tick } = harness(true, null);
    tick(2000);
    progress.add(3000);
    expect(written).toEqual(['\r\x1b[2Kcopy: 3,000 1,500/s']);
    const quiet = new Progress({ isTTY: true, write: () => expect.unreachable() }, 'x', {
      total: 5,
      enabled: false,
    });
    quiet.add(5);
    quiet.finish();
  });
});

describe('session comparison', () => {
  const record = {
    id: 'a',
    state: 'active' as const,
    context: { b: 1, a: { y: [1, 2], x: null } },
    metadata: {},
    owner: null,
    createdAt: 1,
    lastActivityAt: 2,
    expiresAt: null,
    version: 3,
    messageCount: 1,
  };
  const history = [{ seq: 4, at: 5, data: { role: 'user', content: 'hi' } }];

  it('ignores object key order (Postgres jsonb sorts keys) but nothing else', () => {
    const reordered = { ...record, context: { a: { x: null, y: [1, 2] }, b: 1 } };
    expect(
      compareSessions({ record, logs: { history } }, { record: reordered, logs: { history } }),
    ).toEqual([]);
    expect(canonicalJson({ b: 1, a: 2 })).toBe(canonicalJson({ a: 2, b: 1 }));
    // An own "__proto__" key (JSON.parse makes one) stays a key, it never becomes a prototype.
    expect(canonicalJson(JSON.parse('{"b":1,"__proto__":2}'))).toBe('{"__proto__":2,"b":1}');
  });

  it('names every field and log that differs, and a missing copy', () => {
    const other = {
      ...record,
      version: 4,
      expiresAt: 9,
      context: { b: 1, a: { y: [2, 1], x: null } },
    };
    expect(
      compareSessions(
        { record, logs: { history } },
        { record: other, logs: { history: [{ ...history[0]!, at: 6 }], events: [] } },
      ),
    ).toEqual(['context', 'expiresAt', 'version', 'log:history']);
    expect(compareSessions({ record, logs: {} }, null)).toEqual(['missing']);
  });
});
