export { conformanceCases } from './cases/index.js';
export { everyPrimitive, makeRecord, runConformanceCase, type SkipReason } from './harness.js';
export { runStoreConformance } from './run.js';
export {
  type CaseContext,
  type ConformanceCase,
  type ConformanceOptions,
  GROUPS,
  type GroupName,
  type Requirement,
} from './types.js';
