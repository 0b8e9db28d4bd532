import { storeFromUrl } from '../src/index.js';

/** Opened in child processes by the suite's "lifecycle" and "processes" groups. */
export const open = (location: string) => storeFromUrl(location);
