import { RedisSessionStore } from '../src/index.js';

/** Opened in child processes by the conformance suite: the location is a store URL. */
export function open(location: string): RedisSessionStore {
  return new RedisSessionStore({ url: location });
}
