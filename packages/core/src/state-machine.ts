import { InvalidTransitionError } from './errors.js';
import type { SessionState } from './types.js';

/**
 * Allowed transitions: active → idle | suspended | closed; idle → active | closed;
 * suspended → active | closed; closed → nothing (terminal).
 */
export const SESSION_TRANSITIONS: Readonly<Record<SessionState, readonly SessionState[]>> =
  Object.freeze({
    active: Object.freeze(['idle', 'suspended', 'closed'] as const),
    idle: Object.freeze(['active', 'closed'] as const),
    suspended: Object.freeze(['active', 'closed'] as const),
    closed: Object.freeze([] as const),
  });

/** True when the state machine allows `from → to`. */
export function canTransition(from: SessionState, to: SessionState): boolean {
  return SESSION_TRANSITIONS[from].includes(to);
}

/** Throws `InvalidTransitionError` unless the state machine allows `from → to`. */
export function assertTransition(from: SessionState, to: SessionState): void {
  if (!canTransition(from, to))
    throw new InvalidTransitionError(from, to, SESSION_TRANSITIONS[from]);
}

/** States in which a session accepts writes to its context and logs. */
export const WRITABLE_STATES: readonly SessionState[] = Object.freeze(['active', 'idle'] as const);

/** States from which a session may be resumed (made active again). */
export const RESUMABLE_STATES: readonly SessionState[] = Object.freeze([
  'active',
  'idle',
  'suspended',
] as const);
