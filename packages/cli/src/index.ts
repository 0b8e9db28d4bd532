export { runCli } from './cli.js';
export type { MigrateSummary } from './commands/migrate.js';
export {
  type CliIo,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  type OutputStream,
} from './context.js';
export {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  type ExportHeader,
  type ExportLine,
} from './export-format.js';
