import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  ManualClock,
  SessionManager,
  type SessionRecord,
  type SessionStore,
} from '@mcp-session/core';
import type { CaseContext, ConformanceCase, ConformanceOptions, Requirement } from './types.js';

/** Why a case cannot run against this store, or null when it can. */
export type SkipReason = string | null;

/**
 * Runs one case against a fresh location and cleans up after it. Resolves to the skip reason when the
 * case does not apply; rejects when the store breaks the contract.
 */
export async function runConformanceCase(
  testCase: ConformanceCase,
  options: ConformanceOptions,
): Promise<SkipReason> {
  const skipped = options.skip?.[testCase.group];
  if (skipped) return skipped;
  const requirements: readonly Requirement[] =
    testCase.requires === undefined
      ? []
      : typeof testCase.requires === 'string'
        ? [testCase.requires]
        : testCase.requires;
  if (requirements.includes('childModule') && !options.childModule) {
    return 'no childModule was given to the suite';
  }
  if (requirements.includes('damagePayload') && !options.damagePayload) {
    return 'no damagePayload hook was given to the suite';
  }
  const location = await options.location();
  const opened: SessionStore[] = [];
  const open = async (): Promise<SessionStore> => {
    const store = await options.open(location);
    opened.push(store);
    return store;
  };
  try {
    let store = await open();
    for (const requirement of requirements) {
      if (
        requirement !== 'childModule' &&
        requirement !== 'damagePayload' &&
        !store.capabilities[requirement]
      ) {
        return `the store does not declare capabilities.${requirement}`;
      }
    }
    const clock = new ManualClock(Date.now());
    const context: CaseContext = {
      get store() {
        return store;
      },
      location,
      clock,
      manager: (managerOptions = {}) => new SessionManager({ clock, ...managerOptions, store }),
      reopen: async () => {
        await store.close();
        store = await open();
        return store;
      },
      openAnother: open,
      record: (overrides = {}) => makeRecord(clock.now(), overrides),
      damagePayload: async (storageId) => {
        if (!options.damagePayload)
          throw new Error('This case needs the suite option damagePayload');
        await options.damagePayload(location, storageId);
      },
      child: (task, args) => runChild(options, location, task, args),
    };
    await testCase.run(context);
    return null;
  } finally {
    for (const store of opened) await store.close().catch(() => undefined);
    await options.destroy?.(location);
  }
}

/** A valid record with a random 64-hex storage id (the shape of a hashed session id). */
export function makeRecord(now: number, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: randomBytes(32).toString('hex'),
    state: 'active',
    context: {},
    metadata: {},
    owner: null,
    createdAt: now,
    lastActivityAt: now,
    expiresAt: now + 3_600_000,
    version: 1,
    messageCount: 0,
    ...overrides,
  };
}

/**
 * One valid call of every store primitive, named, on the session `id` (which exists or existed) at `now`;
 * `create` makes a new record. For tests of how every primitive behaves in one situation (after
 * `close()`, with the backend gone): `for (const [primitive, call] of everyPrimitive(store, id, now))`.
 */
export function everyPrimitive(
  store: SessionStore,
  id: string,
  now: number,
): [primitive: string, call: () => Promise<unknown>][] {
  return [
    ['create', () => store.create(makeRecord(now), { now })],
    ['get', () => store.get(id, { now })],
    ['update', () => store.update(id, { contextSet: { a: 1 } }, { now })],
    ['append', () => store.append(id, 'history', [1], { now })],
    ['replaceEntries', () => store.replaceEntries(id, 'history', [{ seq: 1, value: 2 }], { now })],
    ['read', () => store.read(id, 'history', { now })],
    ['delete', () => store.delete(id)],
    ['list', () => store.list({ now, limit: 10 })],
    ['count', () => store.count({ now })],
    ['sweep', () => store.sweep(now)],
    ['stats', () => store.stats(now)],
  ];
}

const CHILD_TIMEOUT_MS = 120_000;

async function runChild(
  options: ConformanceOptions,
  location: string,
  task: string,
  args: Record<string, unknown>,
): Promise<unknown> {
  const childModule = options.childModule;
  if (!childModule) throw new Error('This case needs the suite option childModule');
  const ownExtension = extname(fileURLToPath(import.meta.url));
  const runner = fileURLToPath(new URL(`./child-runner${ownExtension}`, import.meta.url));
  const needsTypeScript = ownExtension === '.ts' || childModule.endsWith('.ts');
  const execArgv = options.childExecArgv ?? (needsTypeScript ? ['--import', tsxLoader()] : []);
  const child = spawn(
    process.execPath,
    [...execArgv, runner, childModule, location, task, JSON.stringify(args)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `Child task "${task}" did not exit within ${CHILD_TIMEOUT_MS / 1000}s. If it printed its result, ` +
            `close() left something (a socket, timer or file handle) keeping the process alive.\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, CHILD_TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  if (code !== 0)
    throw new Error(`Child task "${task}" exited with code ${code}.\nstderr: ${stderr}`);
  const lastLine = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(lastLine) as unknown;
}

function tsxLoader(): string {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  } catch {
    return 'tsx';
  }
}
