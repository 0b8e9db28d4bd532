/**
 * Issue 14, "unbounded storage": every POST answered with SSE stored its events in a log of its own that
 * lived as long as the session, so 1,000 tool calls of a 64 KiB value on one session added 61.9 MiB to
 * SQLite. Now a session's events, all streams together, stay within `maxEvents × maxEventBytes` (1.6 MiB
 * by default) on every backend, whatever the number of requests. Real HTTP to the handler on a real port,
 * real backends; what landed is read out of band (files, tables, keys).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createStore, SessionManager } from '@mcp-session/core';
import { STORE_KINDS, type StoreKind, testStore } from '@mcp-session/test-utils/stores';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createMcpSessionHandler, type ServerFactory } from '../src/index.js';
import {
  cleanupAfterEach,
  jsonResult,
  listen,
  OWNER_HEADER,
  ownerFromHeader,
  rawCallTool,
  rawInitialize,
  rawInitialized,
} from './helpers.js';
import { sessionFootprint } from './session-footprint.js';

const cleanups = cleanupAfterEach();

const KiB = 1024;
const CALLS = 1_000;
/** The handler's defaults, which this test holds it to. */
const MAX_EVENTS = 100;
const MAX_EVENT_BYTES = 16 * KiB;
const BUDGET = MAX_EVENTS * MAX_EVENT_BYTES;

/** A server whose `blob` tool returns a fresh string of `chars` characters (random: nothing compresses it). */
const blobServer: ServerFactory = () => {
  const mcp = new McpServer({ name: 'blob', version: '1.0.0' });
  mcp.registerTool('blob', { inputSchema: { chars: z.number().int() } }, async ({ chars }) =>
    jsonResult(randomBytes((chars / 4) * 3).toString('base64')),
  );
  return mcp;
};

/** Bytes of the stored entry of an event of `eventBytes` JSON: `{"v":1,"c":"<base64url iv‖ciphertext‖tag>"}`. */
function sealedEntryBytes(eventBytes: number): number {
  return '{"v":1,"c":""}'.length + Math.ceil(((12 + eventBytes + 16) * 4) / 3);
}

/**
 * Bytes a backend may take beyond the events themselves once `maxEvents` events of `eventBytes` each are
 * kept, and why. What these allow is stated in the README's resumable-streams section.
 */
function overhead(kind: StoreKind, eventBytes: number): number {
  switch (kind) {
    case 'memory':
      // Measured as the entries' JSON: nothing beyond the events.
      return 0;
    case 'sqlite':
      // An event larger than a page spills into overflow pages, the last one partly empty (< 4 KiB per
      // event); an append inserts before it trims, so one more event is briefly there; trimmed pages go
      // to the freelist and are reused, never handed back. Plus a few B-tree pages.
      return MAX_EVENTS * 4 * KiB + eventBytes + 64 * KiB;
    case 'file':
      // A log file is rewritten once its trimmed lines outnumber both its live lines and 64: until then
      // up to max(maxEvents, 64) trimmed events are still in it.
      return Math.max(MAX_EVENTS, 64) * eventBytes + 8 * KiB;
    case 'redis':
      // The allocator rounds each value up to its size class (at most 25% more), plus the hash's own.
      return Math.ceil(MAX_EVENTS * eventBytes * 0.25) + 16 * KiB;
    case 'postgres':
      // Once vacuum has reclaimed trimmed rows (dead tuples until then): TOAST chunk headers, heap and
      // index pages.
      return Math.ceil(MAX_EVENTS * eventBytes * 0.1) + 64 * KiB;
  }
}

describe.each([
  { valueKiB: 64, stored: false, what: 'each event over maxEventBytes: delivered, not stored' },
  // 11 KiB: the largest whose sealed entry (≈ 4/3 of the event) stays within 16 KiB.
  { valueKiB: 11, stored: true, what: 'each event stored, the oldest trimmed' },
])(
  'one session’s events stay inside the default budget: $valueKiB KiB values ($what)',
  ({ valueKiB, stored }) => {
    it.each(STORE_KINDS)(
      `${CALLS} tool calls on %s`,
      async (kind) => {
        const location = await testStore(kind);
        if (kind === 'sqlite') mkdirSync(dirname(location.url.slice('sqlite:'.length)));
        const manager = new SessionManager({ store: await createStore(location.url) });
        const errors: Error[] = [];
        const handler = await createMcpSessionHandler({
          sessions: manager,
          server: blobServer,
          owner: ownerFromHeader,
          sweepIntervalMs: null,
          onerror: (error) => errors.push(error),
        });
        const http = await listen(handler);
        cleanups.push(async () => {
          await http.close();
          await handler.close();
          await manager.close();
          await location.cleanup();
        });
        const alice = { [OWNER_HEADER]: 'alice' };
        const sessionId = (await rawInitialize(http.url, alice)).sessionId ?? '';
        expect(sessionId).not.toBe('');
        await rawInitialized(http.url, sessionId, alice);
        const eventIds = new Set<string>();
        const footprint = () =>
          sessionFootprint(kind, location.url, manager, sessionId, 'alice', eventIds);
        const before = await footprint();

        let largestEvent = 0;
        for (let call = 1; call <= CALLS; call++) {
          const chars = valueKiB * KiB;
          const { status, result, events } = await rawCallTool(
            http.url,
            sessionId,
            'blob',
            { chars },
            alice,
          );
          // Every result is delivered live, stored or not.
          expect(status, `call ${call}`).toBe(200);
          expect((result as string).length).toBe(chars);
          for (const event of events) {
            if (event.id !== undefined) eventIds.add(event.id);
            largestEvent = Math.max(largestEvent, Buffer.byteLength(event.data));
          }
        }

        const after = await footprint();
        const grown = after.bytes - before.bytes;
        // As stored: the message plus its stream id (a UUID), sealed, and never more than maxEventBytes.
        const eventBytes = Math.min(sealedEntryBytes(largestEvent + 64), MAX_EVENT_BYTES);
        const allowed = BUDGET + overhead(kind, eventBytes);
        console.info(
          `[event budget] ${valueKiB} KiB × ${CALLS} on ${kind}: ${before.entries} → ${after.entries} entries, ${before.bytes} → ${after.bytes} bytes (+${grown}, allowed +${allowed}); ${after.measured}`,
        );
        // The redis hash holds a bounds field per log; file lines include trimmed ones not yet rewritten.
        const extraEntries = kind === 'file' ? Math.max(MAX_EVENTS, 64) : kind === 'redis' ? 1 : 0;
        expect(after.entries).toBeLessThanOrEqual(MAX_EVENTS + extraEntries);
        if (stored) expect(after.entries).toBeGreaterThanOrEqual(MAX_EVENTS);
        else expect(after.entries).toBe(before.entries);
        expect(grown).toBeLessThanOrEqual(allowed);
        // Not storing an oversize event is the configured limit at work, not an error.
        expect(errors).toEqual([]);
      },
      120_000,
    );
  },
);
