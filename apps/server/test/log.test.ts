import { expect, it } from 'vitest';
import { describeError, escapeLogText } from '../src/log.js';

it('escapeLogText leaves no character that ends, rewrites or disguises a line', () => {
  expect(escapeLogText('plain text: ok, “quoted”, é, 日本')).toBe(
    'plain text: ok, “quoted”, é, 日本',
  );
  expect(escapeLogText('a\nb\rc\td\\e')).toBe('a\\nb\\rc\\td\\\\e');
  expect(escapeLogText('\u0000\u001b[2K\u007f\u0085')).toBe('\\x00\\x1b[2K\\x7f\\x85');
  expect(escapeLogText('x\u2028y\u2029z')).toBe('x\\u{2028}y\\u{2029}z');
  expect(escapeLogText('admin\u202egnp.exe\u2066\u200f')).toBe(
    'admin\\u{202e}gnp.exe\\u{2066}\\u{200f}',
  );
  expect(escapeLogText('tag\u{e0041}')).toBe('tag\\u{e0041}');
});

it('describeError puts a whole stack on one line', () => {
  const line = describeError(new Error('bad\n[forged] line'));
  expect(line).not.toContain('\n');
  expect(line).toMatch(/^Error: bad\\n\[forged\] line\\n {4}at /);
  expect(describeError('thrown\nstring')).toBe('thrown\\nstring');
});
