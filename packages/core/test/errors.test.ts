import { describe, expect, it } from 'vitest';
import {
  InvalidIdError,
  isSessionError,
  SessionClosedError,
  SessionNotFoundError,
  StoreClosedError,
  StoreUnavailableError,
  VersionConflictError,
} from '../src/index.js';

describe('isSessionError', () => {
  it('recognises errors by brand and code, a code matching the codes that refine it', () => {
    const closed = new SessionClosedError();
    expect(isSessionError(closed)).toBe(true);
    expect(isSessionError(closed, 'SESSION_CLOSED')).toBe(true);
    expect(isSessionError(closed, 'SESSION_NOT_FOUND')).toBe(true);
    expect(isSessionError(new SessionNotFoundError(), 'SESSION_CLOSED')).toBe(false);
    expect(isSessionError(new StoreClosedError(), 'STORE_UNAVAILABLE')).toBe(true);
    expect(isSessionError(new StoreUnavailableError('down'), 'STORE_CLOSED')).toBe(false);
    expect(isSessionError(new VersionConflictError('state', 3, 'idle'), 'VERSION_CONFLICT')).toBe(
      true,
    );
    expect(isSessionError(new InvalidIdError('bad'), 'INVALID_VALUE')).toBe(false);
  });

  it('is false for look-alikes without the brand', () => {
    const lookalike = Object.assign(new Error('Session not found'), { code: 'SESSION_NOT_FOUND' });
    expect(isSessionError(lookalike)).toBe(false);
    expect(isSessionError({ code: 'SESSION_NOT_FOUND' }, 'SESSION_NOT_FOUND')).toBe(false);
    expect(isSessionError(null)).toBe(false);
    expect(isSessionError('SESSION_NOT_FOUND')).toBe(false);
  });

  it('keeps the brand out of what a caller sees: own keys, JSON, the message', () => {
    const error = new SessionNotFoundError();
    expect(Object.keys(error)).toEqual(['name', 'code']);
    expect(JSON.stringify(error)).toBe(
      '{"name":"SessionNotFoundError","code":"SESSION_NOT_FOUND"}',
    );
    expect(error.name).toBe('SessionNotFoundError');
  });
});
