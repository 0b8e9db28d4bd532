import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { EncryptionBinding } from '../src/encryption.js';
import {
  createKeyring,
  type DecryptionError,
  ENCRYPTED_VALUE_PREFIX,
  encryptedKeyId,
  isSessionError,
  loadKeyringFile,
  parseKeyringJson,
} from '../src/index.js';

const K1 = randomBytes(32);
const K2 = randomBytes(32);
const binding: EncryptionBinding = { storageId: 'storage-a', purpose: 'context', field: 'cart' };

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function expectKeyringError(fn: () => unknown, ...secrets: string[]): string {
  const error = thrown(fn);
  expect(isSessionError(error, 'INVALID_KEYRING'), String(error)).toBe(true);
  const message = (error as Error).message;
  for (const secret of secrets) expect(message).not.toContain(secret);
  return message;
}

describe('createKeyring', () => {
  it('takes Buffers and base64 (standard or URL-safe); the current key encrypts, every key decrypts', () => {
    const old = createKeyring({ current: 'k1', keys: { k1: K1 } });
    const rotated = createKeyring({
      current: 'k2',
      keys: { k1: K1.toString('base64'), k2: K2.toString('base64url') },
    });
    expect(rotated.currentKeyId).toBe('k2');
    expect(rotated.keyIds.sort()).toEqual(['k1', 'k2']);
    const byOld = old.encrypt({ items: ['book'] }, binding);
    expect(byOld.startsWith(`${ENCRYPTED_VALUE_PREFIX}k1:`)).toBe(true);
    expect(encryptedKeyId(byOld)).toBe('k1');
    expect(rotated.decrypt(byOld, binding)).toEqual({ items: ['book'] });
    const byNew = rotated.encrypt('secret', binding);
    expect(encryptedKeyId(byNew)).toBe('k2');
    expect(byNew).not.toContain('secret');
    expect(rotated.decrypt(byNew, binding)).toBe('secret');
  });

  it('uses a fresh IV each time: one value encrypts to different strings', () => {
    const keyring = createKeyring({ current: 'k1', keys: { k1: K1 } });
    expect(keyring.encrypt('same', binding)).not.toBe(keyring.encrypt('same', binding));
  });

  it('refuses bad keyrings with INVALID_KEYRING, never printing key material', () => {
    const short = randomBytes(16).toString('base64');
    expect(
      expectKeyringError(() => createKeyring({ current: 'k1', keys: { k1: short } }), short),
    ).toMatch(/Key "k1" is 16 bytes/);
    const notBase64 = `${K1.toString('hex')}!`;
    expectKeyringError(() => createKeyring({ current: 'k1', keys: { k1: notBase64 } }), notBase64);
    expect(
      expectKeyringError(
        () => createKeyring({ current: 'k3', keys: { k1: K1, k2: K2 } }),
        K1.toString('base64'),
      ),
    ).toMatch(/"k3" is not among its keys \("k1", "k2"\)/);
    expectKeyringError(() => createKeyring({ current: 'k:1', keys: { 'k:1': K1 } }));
    // An id and a key swapped by mistake: the key, in any spelling, is too long to pass for an id.
    for (const spelling of ['base64', 'base64url', 'hex'] as const) {
      const key = K1.toString(spelling);
      expectKeyringError(() => createKeyring({ current: 'k1', keys: { [key]: 'k1' } }), key);
      expectKeyringError(() => createKeyring({ current: key, keys: { k1: K1 } }), key);
    }
    expectKeyringError(() => createKeyring({ current: '', keys: { '': K1 } }));
    expectKeyringError(() => createKeyring({ current: 'k1', keys: {} }));
    expectKeyringError(() => createKeyring(null as never));
  });

  it('prints, inspects and serializes as key ids only', () => {
    const keyring = createKeyring({ current: 'k2', keys: { k1: K1, k2: K2 } });
    for (const shown of [
      JSON.stringify(keyring),
      inspect(keyring, { showHidden: true }),
      String(keyring),
    ]) {
      for (const key of [K1, K2]) {
        expect(shown).not.toContain(key.toString('base64'));
        expect(shown).not.toContain(key.toString('hex'));
      }
    }
    expect(JSON.parse(JSON.stringify(keyring))).toEqual({
      currentKeyId: 'k2',
      keyIds: ['k1', 'k2'],
    });
  });
});

describe('decrypt', () => {
  const keyring = createKeyring({ current: 'k1', keys: { k1: K1 } });
  const stored = keyring.encrypt({ token: 'tk_live_1' }, binding);

  function expectDecryptionError(value: string, b = binding): DecryptionError {
    const error = thrown(() => keyring.decrypt(value, b));
    expect(isSessionError(error, 'DECRYPTION_FAILED'), String(error)).toBe(true);
    expect((error as Error).message).not.toContain('tk_live_1');
    return error as DecryptionError;
  }

  it('fails for another session, another field or another purpose (the AAD binds them)', () => {
    expect(expectDecryptionError(stored, { ...binding, storageId: 'storage-b' })).toMatchObject({
      reason: 'tampered',
      keyId: 'k1',
      field: 'context.cart',
    });
    expectDecryptionError(stored, { ...binding, field: 'other' });
    expectDecryptionError(stored, { ...binding, purpose: 'log' });
  });

  it('fails for an altered, truncated or relabelled value', () => {
    const payload = stored.slice(`${ENCRYPTED_VALUE_PREFIX}k1:`.length);
    const flipped = `${payload.slice(0, 20)}${payload[20] === 'A' ? 'B' : 'A'}${payload.slice(21)}`;
    expectDecryptionError(`${ENCRYPTED_VALUE_PREFIX}k1:${flipped}`);
    expectDecryptionError(stored.slice(0, -4));
    expectDecryptionError(`${ENCRYPTED_VALUE_PREFIX}k1:AAAA`);
    expectDecryptionError(`${ENCRYPTED_VALUE_PREFIX}k1:not base64!`);
    expectDecryptionError(`${ENCRYPTED_VALUE_PREFIX}no-colon`);
    // Same key bytes under another id: the key id is bound too.
    const twin = createKeyring({ current: 'k9', keys: { k1: K1, k9: K1 } });
    const relabelled = stored.replace(
      `${ENCRYPTED_VALUE_PREFIX}k1:`,
      `${ENCRYPTED_VALUE_PREFIX}k9:`,
    );
    expect(thrown(() => twin.decrypt(relabelled, binding))).toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
  });

  it('names the key id the keyring lacks', () => {
    const other = createKeyring({ current: 'k2', keys: { k2: K2 } });
    const error = thrown(() => other.decrypt(stored, binding));
    expect(error).toMatchObject({ code: 'DECRYPTION_FAILED', reason: 'unknown-key', keyId: 'k1' });
    expect((error as Error).message).toMatch(/key id "k1"/);
  });
});

describe('keys files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-session-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads {"current", "keys"} and names the file, never its content, when it is bad', async () => {
    const path = join(dir, 'keys.json');
    writeFileSync(
      path,
      JSON.stringify({
        current: 'k2',
        keys: { k1: K1.toString('base64'), k2: K2.toString('base64') },
      }),
    );
    const keyring = await loadKeyringFile(path);
    expect(keyring.currentKeyId).toBe('k2');
    expect(keyring.has('k1')).toBe(true);

    const secretText = `{"current": "k1", "keys": {"k1": "${K1.toString('base64')}"`;
    writeFileSync(path, secretText);
    await expect(loadKeyringFile(path)).rejects.toMatchObject({ code: 'INVALID_KEYRING' });
    const error = (await loadKeyringFile(path).catch((e: unknown) => e)) as Error;
    expect(error.message).toContain(path);
    expect(error.message).not.toContain(K1.toString('base64'));

    await expect(loadKeyringFile(join(dir, 'missing.json'))).rejects.toMatchObject({
      code: 'INVALID_KEYRING',
      message: expect.stringContaining('ENOENT'),
    });
  });

  it('refuses unknown fields, non-string keys and a missing current', () => {
    expectKeyringError(() => parseKeyringJson('[]'));
    expectKeyringError(() => parseKeyringJson('{"keys": {}}'));
    expectKeyringError(() => parseKeyringJson(`{"current": "k1", "keys": {"k1": 5}}`));
    expect(
      expectKeyringError(() =>
        parseKeyringJson(
          JSON.stringify({ current: 'k1', keys: { k1: K1.toString('base64') }, extra: 1 }),
        ),
      ),
    ).toMatch(/1 unknown field;/);
    const pasted = K2.toString('base64');
    expectKeyringError(
      () =>
        parseKeyringJson(
          JSON.stringify({ current: 'k1', keys: { k1: K1.toString('base64') }, [pasted]: 'k2' }),
        ),
      pasted,
    );
  });
});
