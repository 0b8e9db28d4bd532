import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FileSessionStore, type FileStoreWarning } from '../src/index.js';

/** Opens a store that collects its warnings instead of printing them. */
export async function openCollecting(
  directory: string,
): Promise<{ store: FileSessionStore; warnings: FileStoreWarning[] }> {
  const warnings: FileStoreWarning[] = [];
  const store = await FileSessionStore.open(directory, {
    onWarning: (warning) => warnings.push(warning),
  });
  return { store, warnings };
}

const WORKER = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * Starts `fixtures/worker.ts` in a child process. Vitest sets NODE_OPTIONS with the source condition, so
 * the child loads the TypeScript sources like the tests do.
 */
export function spawnWorker(
  directory: string,
  task: string,
  args: Record<string, unknown>,
): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', TSX, WORKER, directory, task, JSON.stringify(args)], {
    stdio: 'pipe',
  });
}

/** Runs a worker task to its end and returns the JSON it printed last. */
export async function runWorker(
  directory: string,
  task: string,
  args: Record<string, unknown>,
): Promise<unknown> {
  const child = spawnWorker(directory, task, args);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', resolve);
  });
  if (code !== 0) throw new Error(`worker ${task} exited with ${code}: ${stderr}`);
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
}

/** The pid of a process that has exited, for locks "left by a dead process". */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}
