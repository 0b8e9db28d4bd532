/**
 * Runs one benchmark section in its own process (so its peak memory is its own) and prints
 * `{ result, peakRssMiB }` as the last line of stdout.
 */
import { peakRssMiB } from './measure.js';
import { runSection, type Settings } from './sections/index.js';

const [name = '', rawSettings = '{}'] = process.argv.slice(2);
const result = await runSection(name, JSON.parse(rawSettings) as Settings);
process.stdout.write(`${JSON.stringify({ result, peakRssMiB: peakRssMiB() })}\n`);
// Peer libraries may keep sockets or timers open; the section is done, so end the process.
process.exit(0);
