// The dashboard as installed from its tarball: its front-end must be in the package (dist/assets), served
// with the token, from node:http and from the fetch handler alike.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createStore } from '@mcp-session/core';
import { createDashboard } from '@mcp-session/dashboard';

const store = await createStore('memory:');
const token = randomBytes(32).toString('base64url');
const dashboard = createDashboard({ store, token });
const server = createServer(dashboard.nodeListener);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
try {
  const login = await fetch(`${origin}/?token=${token}`, { redirect: 'manual' });
  if (login.status !== 303) throw new Error(`the token URL answered ${login.status}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const page = await (await fetch(`${origin}/`, { headers: { cookie } })).text();
  const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(page)?.[1];
  if (!script) throw new Error(`the page names no script:\n${page}`);
  const asset = await fetch(`${origin}/${script}`, { headers: { cookie } });
  if (
    asset.status !== 200 ||
    asset.headers.get('content-type') !== 'text/javascript; charset=utf-8'
  ) {
    throw new Error(
      `the packaged script answered ${asset.status} ${asset.headers.get('content-type')}`,
    );
  }
  const refused = await fetch(`${origin}/api/stats`);
  if (refused.status !== 401) throw new Error(`no token answered ${refused.status}`);
  const stats = await dashboard.fetch(
    new Request('http://localhost/api/stats', { headers: { authorization: `Bearer ${token}` } }),
  );
  const body = (await stats.json()) as { total?: unknown };
  if (body.total !== 0) throw new Error(`unexpected stats ${JSON.stringify(body)}`);
  console.log('dashboard: ok');
} finally {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await store.close();
}
