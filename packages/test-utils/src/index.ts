export { type Cleanups, cleanupAfterEach } from './cleanup.js';
export {
  type FreshDirectory,
  type FreshSqliteFile,
  freshDirectory,
  freshSqliteFile,
} from './files.js';
export { importSecondCoreCopy, type SecondCoreCopy } from './second-core.js';
