import { render } from 'preact';
import { api, type Config } from './api.ts';
import { Failure, useLoad } from './common.tsx';
import { Overview } from './overview.tsx';
import { type Route, sessionsHref, useRoute } from './route.ts';
import { Session } from './session.tsx';
import { Sessions } from './sessions.tsx';
import './styles.css';

function App() {
  const route = useRoute();
  const [config] = useLoad(() => api.config(), 'config');
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">mcp-session</span>
        <nav aria-label="Dashboard">
          <a href="#/" aria-current={route.page === 'overview' ? 'page' : undefined}>
            Overview
          </a>
          <a href={sessionsHref()} aria-current={route.page === 'sessions' ? 'page' : undefined}>
            Sessions
          </a>
        </nav>
        {config.status === 'ok' && (
          <span class={`badge mode ${config.value.write ? 'mode-write' : ''}`}>
            {config.value.write ? 'write mode' : 'read-only'}
          </span>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {config.status === 'loading' && <p class="muted">Loading…</p>}
        {config.status === 'failed' && <Failure message={config.message} />}
        {config.status === 'ok' && <Page route={route} config={config.value} />}
      </main>
    </>
  );
}

function Page({ route, config }: { route: Route; config: Config }) {
  switch (route.page) {
    case 'overview':
      return <Overview config={config} />;
    case 'sessions':
      return (
        <Sessions
          key={`${route.state}\u0000${route.owner}`}
          state={route.state}
          owner={route.owner}
        />
      );
    case 'session':
      return <Session key={route.id} id={route.id} write={config.write} />;
    case 'missing':
      return <Failure message="There is no such page." />;
  }
}

const root = document.getElementById('app');
if (root) render(<App />, root);
