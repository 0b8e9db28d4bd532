export { type Cleanups, cleanupAfterEach } from './cleanup.js';
export {
  type ConformanceLocations,
  conformanceLocations,
  type FreshLocation,
} from './conformance.js';
export {
  type FreshDirectory,
  type FreshSqliteFile,
  freshDirectory,
  freshSqliteFile,
} from './files.js';
export { importSecondCoreCopy, type SecondCoreCopy } from './second-core.js';
export { storeUrlsWithSecret, URL_SECRET } from './secret-urls.js';
