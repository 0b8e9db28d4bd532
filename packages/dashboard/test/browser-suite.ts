import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createStore, type SessionStore } from '@mcp-session/core';
import { freshSqliteFile } from '@mcp-session/test-utils';
import { type StoreKind, testStore } from '@mcp-session/test-utils/stores';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OWNERS, type Seeded, type ServedDashboard, seed, serveDashboard } from './helpers.ts';

export const CHROMIUM = '/usr/bin/chromium';
const SESSIONS = 10_000;
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 375, height: 812 },
} as const;

/** What one backend's browser tests share: seeded once, as seeding 10,000 sessions is the slow part. */
interface World {
  store: SessionStore;
  seeded: Seeded;
  readOnly: ServedDashboard;
  writable: ServedDashboard;
  browser: Browser;
  /** A browser context that has opened the read-only dashboard with its token (so holds the cookie). */
  context: BrowserContext;
  cleanup(): Promise<void>;
}

/** A SQLite file in a fresh directory; `synchronous=normal` keeps seeding 10,000 sessions quick. */
function sqliteLocation(): { url: string; cleanup(): Promise<void> } {
  const file = freshSqliteFile('dashboard');
  return { url: file.url({ synchronous: 'normal' }), cleanup: async () => file.remove() };
}

async function open(kind: StoreKind): Promise<World> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: run "apt-get update && apt-get install -y chromium" (.ci/run does)`,
    );
  }
  const location = kind === 'sqlite' ? sqliteLocation() : await testStore(kind);
  const { url } = location;
  const store = await createStore(url, { resolveFrom: [import.meta.url] });
  const seeded = await seed(store, SESSIONS, Date.now());
  const readOnly = await serveDashboard(store, { refreshMs: 1_000 });
  const writable = await serveDashboard(store, { write: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      // A foreign host name that reaches the dashboard, as a DNS-rebinding page would.
      '--host-resolver-rules=MAP evil.test 127.0.0.1',
    ],
  });
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  return {
    store,
    seeded,
    readOnly,
    writable,
    browser,
    context,
    cleanup: async () => {
      await browser.close();
      await readOnly.close();
      await writable.close();
      await store.close();
      await location.cleanup();
    },
  };
}

async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const [size, viewport] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(viewport);
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: `${ARTIFACTS}${name}-${size}.png` });
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}

const rowIds = (page: Page) => page.locator('table.sessions td.id a').allTextContents();
const seqs = async (page: Page, log: string) =>
  (
    await page
      .locator(`[data-log="${log}"] li`)
      .evaluateAll((items) => items.map((li) => li.getAttribute('data-seq')))
  ).map(Number);

/** The dashboard driven by a real Chromium over a store of `kind` seeded with 10,000 sessions. */
export function dashboardInBrowser(kind: StoreKind): void {
  describe(`dashboard in Chromium on ${kind} (${SESSIONS.toLocaleString('en')} sessions)`, () => {
    let world: World;
    beforeAll(async () => {
      world = await open(kind);
    }, 180_000);
    // A browser on two shared cores can be slow to start a page; no test measures time.
    vi.setConfig({ testTimeout: 60_000 });
    afterAll(async () => {
      await world?.cleanup();
    });

    it("opens with the token, which leaves the address bar; the overview shows the store's own stats and refreshes", async () => {
      const { context, readOnly, store } = world;
      const page = await context.newPage();
      const response = await page.goto(`${readOnly.origin}/?token=${readOnly.token}`);
      expect(response?.status()).toBe(200);
      expect(page.url()).toBe(`${readOnly.origin}/`);
      await page.locator('[data-stat="total"]').waitFor();
      const stats = await store.stats(Date.now());
      const shown = async (name: string) =>
        (await page.locator(`[data-stat="${name}"]`).textContent())?.trim();
      expect(await shown('total')).toBe(stats.total.toLocaleString('en'));
      for (const state of ['active', 'idle', 'suspended', 'closed'] as const) {
        expect(await shown(state)).toBe(stats.byState[state].toLocaleString('en'));
      }
      expect(await shown('expired')).toBe(stats.expired.toLocaleString('en'));
      expect(await shown('messages')).toBe(stats.messages.toLocaleString('en'));
      expect(await page.locator('[data-stat="oldest"]').getAttribute('data-value')).toBe(
        String(stats.oldestCreatedAt),
      );
      expect(stats.total).toBeGreaterThan(9_000);
      expect(stats.expired).toBeGreaterThan(0);
      await screenshots(page, `${kind}-overview`);

      // Live refresh: a session created now shows up without a reload.
      const now = Date.now();
      await store.create(
        {
          id: '0'.repeat(64),
          state: 'active',
          context: {},
          metadata: {},
          owner: null,
          createdAt: now,
          lastActivityAt: now,
          expiresAt: now + 3_600_000,
          version: 1,
          messageCount: 0,
        },
        { now },
      );
      await expect
        .poll(() => shown('total'), { timeout: 15_000 })
        .toBe((stats.total + 1).toLocaleString('en'));
      await page.close();
    });

    it('filters by state and owner and pages forward and back, page by page as the store lists them', async () => {
      const { context, readOnly, store } = world;
      const page = await context.newPage();
      await page.goto(`${readOnly.origin}/`);
      await page.locator('[data-stat="total"]').waitFor();
      // By keyboard alone: Tab past "Skip to content" and "Overview" to "Sessions", which shows its focus.
      for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
      const focused = page.locator(':focus');
      expect(await focused.textContent()).toBe('Sessions');
      const outline = await focused.evaluate((element) =>
        (
          globalThis as unknown as {
            getComputedStyle(e: unknown): { outlineStyle: string; outlineWidth: string };
          }
        ).getComputedStyle(element),
      );
      expect(outline).toMatchObject({ outlineStyle: 'solid', outlineWidth: '3px' });
      await page.keyboard.press('Enter');
      await page.waitForURL(/#\/sessions$/);
      await page.locator('table.sessions').waitFor();
      await page.getByLabel('State').selectOption('idle');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/#\/sessions\?state=idle$/);
      const now = Date.now();
      const first = await store.list({ now, state: 'idle', limit: 50 });
      const second = await store.list({ now, state: 'idle', limit: 50, cursor: first.nextCursor });
      await page.locator('table.sessions td.id a').first().waitFor();
      await expect.poll(() => rowIds(page)).toEqual(first.records.map((r) => r.id));
      const states = await page.locator('table.sessions td[data-label="State"]').allTextContents();
      expect(new Set(states)).toEqual(new Set(['idle']));
      await page.getByRole('button', { name: 'Next →' }).click();
      await expect.poll(() => rowIds(page)).toEqual(second.records.map((r) => r.id));
      await expect.poll(() => page.locator('.page-number').textContent()).toBe('Page 2');
      await page.getByRole('button', { name: '← Previous' }).click();
      await expect.poll(() => rowIds(page)).toEqual(first.records.map((r) => r.id));
      expect(await page.getByRole('button', { name: '← Previous' }).isDisabled()).toBe(true);

      const owner = `user:${7 % OWNERS}`;
      await page.getByLabel('State').selectOption('');
      await page.getByLabel('Owner').fill(owner);
      await page.getByLabel('Owner').press('Enter');
      await page.waitForURL(/owner=user%3A7$/);
      const byOwner = await store.list({ now: Date.now(), owner, limit: 50 });
      await expect.poll(() => rowIds(page)).toEqual(byOwner.records.map((r) => r.id));
      const owners = await page.locator('table.sessions td[data-label="Owner"]').allTextContents();
      expect(new Set(owners)).toEqual(new Set([owner]));
      await screenshots(page, `${kind}-sessions`);

      // A row's link opens that session.
      const firstId = byOwner.records[0]?.id ?? '';
      await page.getByRole('link', { name: firstId }).click();
      await expect.poll(() => page.locator('#session-title').textContent()).toContain(firstId);
      await page.close();
    });

    it('shows one session: fields, context as a collapsible tree, history paged newest first, the sealed event log', async () => {
      const { context, readOnly, seeded } = world;
      const page = await context.newPage();
      await page.goto(`${readOnly.origin}/#/sessions/${seeded.target}`);
      await page.locator('[data-log="history"] li').first().waitFor();
      expect(await page.locator('[data-field="state"]').textContent()).toBe('active');
      expect(await page.getByText('"de-DE"').isVisible()).toBe(true);
      // Read-only: nothing to close.
      expect(await page.getByRole('button', { name: 'Close session…' }).count()).toBe(0);

      const range = (from: number, to: number) =>
        Array.from({ length: from - to + 1 }, (_, k) => from - k);
      expect(await seqs(page, 'history')).toEqual(range(45, 26));
      const history = page.locator('[data-log="history"]');
      await history.getByRole('button', { name: 'Older →' }).click();
      await expect.poll(() => seqs(page, 'history')).toEqual(range(25, 6));
      await history.getByRole('button', { name: 'Older →' }).click();
      await expect.poll(() => seqs(page, 'history')).toEqual(range(5, 1));
      expect(await history.getByRole('button', { name: 'Older →' }).isDisabled()).toBe(true);
      await history.getByRole('button', { name: '← Newer' }).click();
      await expect.poll(() => seqs(page, 'history')).toEqual(range(25, 6));

      const sse = page.locator('[data-log="sse"]');
      expect(await sse.locator('.badge.sealed').textContent()).toBe('sealed');
      expect(await sse.locator('.sealed-entry').count()).toBe(3);

      // The tree folds with the keyboard.
      const cartSummary = page.locator('summary', { hasText: /^cart:/ });
      const cart = cartSummary.locator('..');
      expect(await cart.getAttribute('open')).toBeNull();
      await cartSummary.focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => cart.getAttribute('open')).toBe('');
      expect(await page.getByText('31.5').isVisible()).toBe(true);
      await screenshots(page, `${kind}-session`);
      await page.close();
    });

    it('in write mode closes a session and runs a sweep, each only after its confirmation, and the store changes', async () => {
      const { browser, writable, store } = world;
      const [victim] = (await store.list({ now: Date.now(), state: 'active', limit: 1 })).records;
      if (!victim) throw new Error('the seed has no active session');
      const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
      const page = await context.newPage();
      await page.goto(`${writable.origin}/?token=${writable.token}`);
      await page.goto(`${writable.origin}/#/sessions/${victim.id}`);
      await page.getByRole('button', { name: 'Close session…' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      await screenshots(page, `${kind}-close-dialog`);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      expect((await store.get(victim.id, { now: Date.now() }))?.state).toBe('active');
      await page.getByRole('button', { name: 'Close session…' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Yes, close it' }).click();
      await expect.poll(() => page.locator('[data-field="state"]').textContent()).toBe('closed');
      expect((await store.get(victim.id, { now: Date.now() }))?.state).toBe('closed');

      // The sweep, behind its own confirmation, deletes the expired sessions the seed left.
      expect((await store.stats(Date.now())).expired).toBeGreaterThan(0);
      await page.getByRole('link', { name: 'Overview' }).click();
      await page.getByRole('button', { name: 'Run sweep…' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Yes, sweep' }).click();
      await expect
        .poll(() => page.getByRole('status').textContent())
        .toMatch(/^Swept [\d,]+ expired sessions\.$/);
      expect((await store.stats(Date.now())).expired).toBe(0);
      await context.close();
    });

    it('without the token answers 401 and renders nothing', async () => {
      const { browser, readOnly } = world;
      const context = await browser.newContext();
      for (const path of ['/', '/#/sessions', `/?token=${'A'.repeat(43)}`, '/api/stats']) {
        // A fresh page each time: a change of the hash alone is no request.
        const page = await context.newPage();
        const response = await page.goto(`${readOnly.origin}${path}`);
        expect(response?.status(), path).toBe(401);
        expect(await page.locator('#app').count()).toBe(0);
        expect(await page.locator('body').textContent()).toContain('401');
        await page.close();
      }
      await context.close();
    });

    it('from a foreign host name or origin answers 403, even with the token', async () => {
      const { browser, context, readOnly } = world;
      const fresh = await browser.newContext();
      const page = await fresh.newPage();
      const response = await page.goto(
        `http://evil.test:${readOnly.port}/?token=${readOnly.token}`,
      );
      expect(response?.status()).toBe(403);
      expect(await page.locator('#app').count()).toBe(0);
      await fresh.close();
      // The context holding the cookie, asked by another origin.
      const foreign = await context.request.get(`${readOnly.origin}/api/stats`, {
        headers: { origin: `http://evil.test:${readOnly.port}` },
      });
      expect(foreign.status()).toBe(403);
      const own = await context.request.get(`${readOnly.origin}/api/stats`);
      expect(own.status()).toBe(200);
    });
  });
}
