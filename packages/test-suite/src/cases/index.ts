import type { ConformanceCase } from '../types.js';
import { argumentCases } from './arguments.js';
import { concurrencyCases } from './concurrency.js';
import { durableCases } from './durable.js';
import { encryptionCases } from './encryption.js';
import { expiryCases } from './expiry.js';
import { isolationCases } from './isolation.js';
import { lifecycleCases } from './lifecycle.js';
import { listingCases } from './listing.js';
import { logCases } from './logs.js';
import { managerCases } from './manager.js';
import { messagingCases } from './messaging.js';
import { ownerFirstCases } from './owner-first.js';
import { processCases } from './processes.js';
import { recordCases } from './records.js';
import { replaceEntriesCases } from './replace-entries.js';
import { statsCases } from './stats.js';
import { validationCases } from './validation.js';

/** Every case of the suite, in group order. */
export const conformanceCases: readonly ConformanceCase[] = Object.freeze([
  ...recordCases,
  ...logCases,
  ...replaceEntriesCases,
  ...concurrencyCases,
  ...expiryCases,
  ...listingCases,
  ...statsCases,
  ...isolationCases,
  ...ownerFirstCases,
  ...managerCases,
  ...encryptionCases,
  ...validationCases,
  ...argumentCases,
  ...lifecycleCases,
  ...durableCases,
  ...processCases,
  ...messagingCases,
]);
