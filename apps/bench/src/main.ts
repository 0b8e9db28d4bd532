/**
 * `pnpm bench [--quick] [--only ops,history,count,events,metrics,oracle|<backend>,…] [--out bench-results.json]`
 *
 * Runs every section in its own child process, one after another, prints a markdown report on stdout
 * and writes every figure with the machine description to a JSON file.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BACKENDS } from './backends.js';
import { describeMachine } from './machine.js';
import { report, type SectionOutput } from './report.js';
import type { Settings } from './sections/index.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: 'bench-results.json' },
  },
});

const settings: Settings = values.quick
  ? {
      durationMs: 150,
      concurrencies: [1, 64],
      sweepSessions: 200,
      historyLengths: [10, 1_000, 10_000],
      sessionCounts: [1_000, 20_000],
      events: 300,
      floodSessions: 20_000,
      floodDurationMs: 1_500,
      oracleSamples: 300,
    }
  : {
      durationMs: 600,
      concurrencies: [1, 64],
      sweepSessions: 1_000,
      historyLengths: [10, 1_000, 100_000],
      sessionCounts: [1_000, 1_000_000],
      events: 2_000,
      floodSessions: 20_000,
      floodDurationMs: 5_000,
      oracleSamples: 1_500,
    };

const COUNT_BACKENDS = ['memory', 'sqlite', 'redis', 'postgres'];
const allSections = [
  ...BACKENDS.map((backend) => `ops:${backend}`),
  ...BACKENDS.map((backend) => `history:${backend}`),
  ...COUNT_BACKENDS.map((backend) => `count:${backend}`),
  'events',
  'metrics',
  ...BACKENDS.map((backend) => `oracle:${backend}`),
];
const only = values.only?.split(',').map((part) => part.trim());
const sections = only
  ? allSections.filter((section) =>
      only.some((wanted) => section === wanted || section.split(':').includes(wanted)),
    )
  : allSections;
if (sections.length === 0) {
  console.error(`--only matched no section. Sections: ${allSections.join(', ')}`);
  process.exit(2);
}

const child = fileURLToPath(new URL('./section-child.ts', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function runChild(section: string): Promise<SectionOutput> {
  return new Promise((done, fail) => {
    const process_ = spawn(
      process.execPath,
      [
        '--conditions=@mcp-session/source',
        '--max-old-space-size=8192',
        '--import',
        tsx,
        child,
        section,
        JSON.stringify(settings),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let stdout = '';
    process_.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    process_.on('error', fail);
    process_.on('exit', (code) => {
      if (code !== 0) return fail(new Error(`section ${section} exited with code ${code}`));
      const parsed = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Omit<
        SectionOutput,
        'section' | 'seconds'
      >;
      done({ section, seconds: 0, ...parsed });
    });
  });
}

const started = Date.now();
const outputs: SectionOutput[] = [];
for (const section of sections) {
  const sectionStarted = Date.now();
  process.stderr.write(`bench: ${section}…`);
  const output = await runChild(section);
  output.seconds = (Date.now() - sectionStarted) / 1000;
  process.stderr.write(` ${output.seconds.toFixed(1)} s\n`);
  outputs.push(output);
}
const machine = await describeMachine();
const results = {
  date: new Date().toISOString(),
  mode: values.quick ? 'quick' : 'full',
  settings,
  machine,
  totalSeconds: (Date.now() - started) / 1000,
  sections: outputs,
};
const out = resolve(values.out);
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(report(results));
process.stderr.write(`bench: done in ${results.totalSeconds.toFixed(0)} s; figures in ${out}\n`);
