import { type SessionStore, StoreUnavailableError } from '@mcp-session/core';
import { MemorySessionStore } from '@mcp-session/memory';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDashboard, DASHBOARD_DEFAULTS } from '../src/index.ts';
import { newToken, type Seeded, type ServedDashboard, seed, serveDashboard } from './helpers.ts';

/** The handler over HTTP without a browser: the security rules, content types and the JSON API. */
describe('dashboard handler', () => {
  let store: MemorySessionStore;
  let served: ServedDashboard;
  let writable: ServedDashboard;
  let seeded: Seeded;
  const auth = () => ({ authorization: `Bearer ${served.token}` });

  beforeAll(async () => {
    store = new MemorySessionStore();
    seeded = await seed(store, 300, Date.now());
    served = await serveDashboard(store);
    writable = await serveDashboard(store, { write: true });
  });
  afterAll(async () => {
    await served.close();
    await writable.close();
    await store.close();
  });

  it('answers 401 without the token, or with a wrong one, and renders nothing', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-wrong-token' },
    ];
    for (const headers of attempts) {
      for (const path of ['/', '/api/stats', '/api/sessions', '/assets/x.js']) {
        const response = await fetch(`${served.origin}${path}`, { headers, redirect: 'manual' });
        expect(response.status, path).toBe(401);
        const body = await response.text();
        expect(body).not.toContain('<script');
        expect(body).not.toContain('"total"');
      }
    }
    const wrongQuery = await fetch(`${served.origin}/?token=${'x'.repeat(43)}`, {
      redirect: 'manual',
    });
    expect(wrongQuery.status).toBe(401);
    expect(wrongQuery.headers.get('set-cookie')).toBeNull();
  });

  it('moves a token from the URL into an HttpOnly SameSite=Strict cookie and drops it from the address', async () => {
    const response = await fetch(`${served.origin}/?token=${served.token}`, { redirect: 'manual' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/');
    const cookie = response.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^mcp_session_dashboard_[0-9a-f]{12}=/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/');
    const pair = cookie.split(';')[0] ?? '';
    const page = await fetch(`${served.origin}/`, { headers: { cookie: pair } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(await page.text()).toContain('<div id="app">');
  });

  it('accepts any token string in the cookie, however the cookie syntax treats its characters', async () => {
    const token = 'a token; with=odd "characters" %41';
    const dashboard = createDashboard({ store, token, assetsDir: inject('assetsDir') });
    const login = await dashboard.fetch(
      new Request(`http://127.0.0.1/?token=${encodeURIComponent(token)}`),
    );
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const page = await dashboard.fetch(
      new Request('http://127.0.0.1/api/config', { headers: { cookie } }),
    );
    expect(page.status).toBe(200);
  });

  it('refuses a foreign Host (DNS rebinding) and a foreign Origin with 403, before looking at the token', async () => {
    // fetch() cannot set Host; a raw request can.
    const { request } = await import('node:http');
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${served.origin}/api/stats`, { headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await status({ host: `evil.example:${served.port}`, ...auth() })).toBe(403);
    expect(await status({ host: `localhost:${served.port}`, ...auth() })).toBe(200);
    const foreign = await fetch(`${served.origin}/api/stats`, {
      headers: { ...auth(), origin: 'http://evil.example' },
    });
    expect(foreign.status).toBe(403);
    const own = await fetch(`${served.origin}/api/stats`, {
      headers: { ...auth(), origin: served.origin },
    });
    expect(own.status).toBe(200);
  });

  it('sends a strict Content-Security-Policy and no-referrer on every answer', async () => {
    for (const path of ['/', '/api/stats', '/nothing']) {
      const response = await fetch(`${served.origin}${path}`, { headers: auth() });
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('serves the built assets with their content types and a long private cache; nothing outside them', async () => {
    const page = await (await fetch(`${served.origin}/`, { headers: auth() })).text();
    const script = /src="\.\/assets\/([^"]+\.js)"/.exec(page)?.[1];
    const style = /href="\.\/assets\/([^"]+\.css)"/.exec(page)?.[1];
    expect(script).toBeDefined();
    expect(style).toBeDefined();
    const js = await fetch(`${served.origin}/assets/${script}`, { headers: auth() });
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
    const body = await js.text();
    // Everything is served from the package: no third-party address in the bundle.
    expect(body).not.toMatch(/https?:\/\/(?!www\.w3\.org)[a-z]/i);
    const css = await fetch(`${served.origin}/assets/${style}`, { headers: auth() });
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    for (const path of ['/assets/..%2Fpackage.json', '/assets/../index.html', '/assets/%2e%2e/x']) {
      const response = await fetch(`${served.origin}${path}`, { headers: auth() });
      expect([404]).toContain(response.status);
    }
  });

  it('answers the API from the store: stats, a filtered page, a session, a log page newest first', async () => {
    const get = async (path: string) => {
      const response = await fetch(`${served.origin}/api/${path}`, { headers: auth() });
      expect(response.status, path).toBe(200);
      return (await response.json()) as Record<string, unknown>;
    };
    const stats = await get('stats');
    const { now: _, ...figures } = stats;
    expect(figures).toEqual(await store.stats(Date.now()));
    const page = (await get('sessions?state=idle&owner=user:3&limit=5')) as {
      records: { state: string; owner: string; context?: unknown }[];
    };
    expect(page.records.length).toBeGreaterThan(0);
    for (const record of page.records) {
      expect(record).toMatchObject({ state: 'idle', owner: 'user:3' });
      expect(record.context).toBeUndefined();
    }
    const detail = (await get(`sessions/${seeded.target}`)) as { record: { context: unknown } };
    expect(detail.record.context).toMatchObject({ locale: 'de-DE' });
    const history = (await get(`sessions/${seeded.target}/logs/history?limit=10`)) as {
      entries: { seq: number }[];
      hasOlder: boolean;
    };
    expect(history.entries.map((e) => e.seq)).toEqual([45, 44, 43, 42, 41, 40, 39, 38, 37, 36]);
    expect(history.hasOlder).toBe(true);
    const oldest = (await get(`sessions/${seeded.target}/logs/history?limit=10&beforeSeq=6`)) as {
      entries: { seq: number }[];
      hasOlder: boolean;
    };
    expect(oldest.entries.map((e) => e.seq)).toEqual([5, 4, 3, 2, 1]);
    expect(oldest.hasOlder).toBe(false);
    const sse = (await get(`sessions/${seeded.target}/logs/sse`)) as {
      sealed: boolean;
      entries: { data?: unknown; sealedBytes?: number }[];
    };
    expect(sse.sealed).toBe(true);
    for (const entry of sse.entries) {
      expect(entry.data).toBeUndefined();
      expect(entry.sealedBytes).toBe(80);
    }
  });

  it('is read-only by default: close and sweep answer 403 and change nothing', async () => {
    const before = await store.get(seeded.target, { now: Date.now() });
    for (const [path, confirm] of [
      [`sessions/${seeded.target}/close`, seeded.target],
      ['sweep', 'sweep'],
    ]) {
      const response = await fetch(`${served.origin}/api/${path}`, {
        method: 'POST',
        headers: { ...auth(), origin: served.origin, 'content-type': 'application/json' },
        body: JSON.stringify({ confirm }),
      });
      expect(response.status).toBe(403);
      expect(((await response.json()) as { error: string }).error).toBe('READ_ONLY');
    }
    expect(await store.get(seeded.target, { now: Date.now() })).toEqual(before);
  });

  it("in write mode, closes only with the confirmation, as JSON from the page's own origin", async () => {
    const [victim] = (await store.list({ now: Date.now(), limit: 1, state: 'active' })).records;
    if (!victim) throw new Error('the seed has no active session');
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${writable.origin}/api/sessions/${victim.id}/close`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${writable.token}`,
          origin: writable.origin,
          'content-type': 'application/json',
          ...headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    expect((await post({})).status).toBe(400);
    expect((await post({ confirm: 'yes' })).status).toBe(400);
    expect(
      (await post(`confirm=${victim.id}`, { 'content-type': 'application/x-www-form-urlencoded' }))
        .status,
    ).toBe(415);
    const noOrigin = await fetch(`${writable.origin}/api/sessions/${victim.id}/close`, {
      method: 'POST',
      headers: { authorization: `Bearer ${writable.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ confirm: victim.id }),
    });
    expect(noOrigin.status).toBe(403);
    expect((await store.get(victim.id, { now: Date.now() }))?.state).toBe('active');
    const closed = await post({ confirm: victim.id });
    expect(closed.status).toBe(200);
    expect(await closed.json()).toMatchObject({ closed: true, changed: true });
    expect((await store.get(victim.id, { now: Date.now() }))?.state).toBe('closed');
    expect(await (await post({ confirm: victim.id })).json()).toMatchObject({ changed: false });
  });

  it('never echoes a store failure (which may hold a password) to the client', async () => {
    const secret = 'postgres://app:hunter2-secret@db/app';
    const failing = new Proxy(store, {
      get(target, key, receiver) {
        if (key === 'stats')
          return () => Promise.reject(new StoreUnavailableError(`cannot reach ${secret}`));
        return Reflect.get(target, key, receiver) as unknown;
      },
    }) as SessionStore;
    const errors: unknown[] = [];
    const token = newToken();
    const dashboard = createDashboard({
      store: failing,
      token,
      assetsDir: inject('assetsDir'),
      onError: (e) => errors.push(e),
    });
    const response = await dashboard.fetch(
      new Request('http://127.0.0.1/api/stats', { headers: { authorization: `Bearer ${token}` } }),
    );
    expect(response.status).toBe(503);
    const body = await response.text();
    expect(body).not.toContain('hunter2');
    expect(errors).toHaveLength(1);
  });

  it('works through the fetch handler at a mount path', async () => {
    const token = newToken();
    const dashboard = createDashboard({
      store,
      token,
      basePath: '/ops/dashboard/',
      assetsDir: inject('assetsDir'),
    });
    const login = await dashboard.fetch(
      new Request(`http://localhost:8080/ops/dashboard?token=${token}`),
    );
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/ops/dashboard/');
    expect(login.headers.get('set-cookie')).toContain('Path=/ops/dashboard/');
    const stats = await dashboard.fetch(
      new Request('http://localhost:8080/ops/dashboard/api/stats', {
        headers: { authorization: `Bearer ${token}` },
      }),
    );
    expect(stats.status).toBe(200);
    const outside = await dashboard.fetch(
      new Request('http://localhost:8080/api/stats', {
        headers: { authorization: `Bearer ${token}` },
      }),
    );
    expect(outside.status).toBe(404);
  });

  it('refuses bad options with a typed error that never shows the token', () => {
    const assetsDir = inject('assetsDir');
    const attempts: [Record<string, unknown>, string][] = [
      [{ store, token: 'short-secret' }, 'token'],
      [{ store: {}, token: newToken() }, 'store'],
      [{ store, token: newToken(), basePath: 'dash' }, 'basePath'],
      [{ store, token: newToken(), allowedHosts: ['localhost:8080'] }, 'allowedHosts'],
      [{ store, token: newToken(), allowedOrigins: ['not a url'] }, 'allowedOrigins'],
      [{ store, token: newToken(), refreshMs: 10 }, 'refreshMs'],
      [{ store, token: newToken(), pageSize: 0 }, 'pageSize'],
      [{ store, token: newToken(), assetsDir: '/nonexistent/assets' }, 'assetsDir'],
    ];
    for (const [options, name] of attempts) {
      let error: unknown;
      try {
        createDashboard({ assetsDir, ...options } as never);
      } catch (caught) {
        error = caught;
      }
      expect(error, name).toMatchObject({ code: 'INVALID_VALUE' });
      expect((error as Error).message).toContain(name);
      expect((error as Error).message).not.toContain('short-secret');
    }
    expect(DASHBOARD_DEFAULTS.allowedHosts).toEqual(['127.0.0.1', 'localhost', '[::1]']);
  });
});
