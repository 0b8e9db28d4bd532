import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshDirectory } from '@mcp-session/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

const dir = freshDirectory('server-keys');
afterAll(() => dir.remove());

function keysFile(name: string, text: string): string {
  const path = join(dir.path, name);
  writeFileSync(path, text);
  return path;
}

describe('SESSION_ENCRYPTION_KEYS_FILE', () => {
  it('is off by default, and loads the keyring of a keys file', () => {
    expect(loadConfig({}).encryption).toBeUndefined();
    const path = keysFile(
      'good.json',
      JSON.stringify({
        current: 'k2',
        keys: { k1: randomBytes(32).toString('base64'), k2: randomBytes(32).toString('base64') },
      }),
    );
    const { encryption } = loadConfig({ SESSION_ENCRYPTION_KEYS_FILE: path });
    expect(encryption?.currentKeyId).toBe('k2');
    expect(encryption?.keyIds.sort()).toEqual(['k1', 'k2']);
  });

  it('refuses a bad file at start, naming the variable and never echoing the file', () => {
    const key = randomBytes(32).toString('base64');
    const short = randomBytes(16).toString('base64');
    const cases: [string, RegExp][] = [
      [keysFile('truncated.json', `{"current": "k1", "keys": {"k1": "${key}"`), /not valid JSON/],
      [
        keysFile('short.json', JSON.stringify({ current: 'k1', keys: { k1: short } })),
        /"k1" is 16 bytes/,
      ],
      [
        keysFile('current.json', JSON.stringify({ current: 'k9', keys: { k1: key } })),
        /"k9" is not among/,
      ],
      [
        keysFile('extra.json', JSON.stringify({ current: 'k1', keys: { k1: key }, [key]: 1 })),
        /unknown field/,
      ],
      [join(dir.path, 'missing.json'), /cannot read .*ENOENT/],
    ];
    for (const [path, message] of cases) {
      let error: Error | undefined;
      try {
        loadConfig({ SESSION_ENCRYPTION_KEYS_FILE: path });
      } catch (caught) {
        error = caught as Error;
      }
      expect(error?.message).toMatch(/^SESSION_ENCRYPTION_KEYS_FILE: /);
      expect(error?.message).toMatch(message);
      expect(error?.message).not.toContain(key);
      expect(error?.message).not.toContain(short);
    }
    expect(() => loadConfig({ SESSION_ENCRYPTION_KEYS_FILE: ' ' })).toThrow(
      /^SESSION_ENCRYPTION_KEYS_FILE is set but empty/,
    );
  });
});
