import { useEffect, useState } from 'preact/hooks';
import { api, type Config, STATES, type Stats } from './api.ts';
import { Confirm, Failure, type Loaded, Time } from './common.tsx';
import { count, exact } from './format.ts';
import { sessionsHref } from './route.ts';

/** Store-wide figures from `stats`, refreshed every `config.refreshMs`. */
export function Overview({ config }: { config: Config }) {
  const [stats, setStats] = useState<Loaded<Stats>>({ status: 'loading' });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let current = true;
    api.stats().then(
      (value) => current && setStats({ status: 'ok', value }),
      (error: Error) => current && setStats({ status: 'failed', message: error.message }),
    );
    const timer = setTimeout(() => setTick((t) => t + 1), config.refreshMs);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [tick, config.refreshMs]);

  return (
    <section aria-labelledby="overview-title">
      <div class="title-row">
        <h1 id="overview-title">Overview</h1>
        {stats.status === 'ok' && (
          <p class="muted updated" aria-live="polite">
            Updated{' '}
            <time dateTime={new Date(stats.value.now).toISOString()}>
              {exact(stats.value.now).slice(11)}
            </time>
            , every {Math.round(config.refreshMs / 1000)} s
          </p>
        )}
      </div>
      {stats.status === 'loading' && <p class="muted">Loading…</p>}
      {stats.status === 'failed' && <Failure message={stats.message} />}
      {stats.status === 'ok' && <Figures stats={stats.value} />}
      {config.write && <Sweep onDone={() => setTick((t) => t + 1)} />}
    </section>
  );
}

function Figures({ stats }: { stats: Stats }) {
  return (
    <>
      <div class="cards">
        <div class="card">
          <h2>Live sessions</h2>
          <p class="figure" data-stat="total">
            {count(stats.total)}
          </p>
          <a href={sessionsHref()}>List all</a>
        </div>
        {STATES.map((state) => (
          <div class={`card card-${state}`} key={state}>
            <h2>
              {state === 'closed'
                ? 'Closed (tombstones)'
                : state[0]?.toUpperCase() + state.slice(1)}
            </h2>
            <p class="figure" data-stat={state}>
              {count(stats.byState[state])}
            </p>
            <a href={sessionsHref({ state })} aria-label={`List ${state} sessions`}>
              List
            </a>
          </div>
        ))}
        <div class="card">
          <h2>Expired, not swept</h2>
          <p class="figure" data-stat="expired">
            {count(stats.expired)}
          </p>
        </div>
        <div class="card">
          <h2>Messages</h2>
          <p class="figure" data-stat="messages">
            {count(stats.messages)}
          </p>
          <p class="muted">
            {stats.total > 0
              ? `${(stats.messages / stats.total).toFixed(1)} per live session`
              : ' '}
          </p>
        </div>
        <div class="card">
          <h2>Oldest session</h2>
          <p class="figure small" data-stat="oldest" data-value={stats.oldestCreatedAt ?? ''}>
            {stats.oldestCreatedAt === null ? (
              '–'
            ) : (
              <Time at={stats.oldestCreatedAt} now={stats.now} />
            )}
          </p>
          {stats.oldestCreatedAt !== null && <p class="muted">{exact(stats.oldestCreatedAt)}</p>}
        </div>
      </div>
      <StateBar stats={stats} />
    </>
  );
}

/** Sessions by state as one bar; the numbers are in the cards above, so it is hidden from screen readers. */
function StateBar({ stats }: { stats: Stats }) {
  if (stats.total === 0) return null;
  return (
    <div class="state-bar" aria-hidden="true">
      {STATES.filter((state) => stats.byState[state] > 0).map((state) => (
        <span
          key={state}
          class={`segment state-${state}`}
          style={{ flexGrow: stats.byState[state] }}
          title={`${state}: ${count(stats.byState[state])}`}
        />
      ))}
    </div>
  );
}

function Sweep({ onDone }: { onDone: () => void }) {
  const [asking, setAsking] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const run = async () => {
    setAsking(false);
    setResult('Sweeping…');
    try {
      const { swept, more } = await api.sweep();
      setResult(
        `Swept ${count(swept)} expired session${swept === 1 ? '' : 's'}${more ? ' (more remain: run it again)' : ''}.`,
      );
    } catch (error) {
      setResult((error as Error).message);
    }
    onDone();
  };
  return (
    <div class="write-actions">
      <h2>Maintenance</h2>
      <button type="button" class="danger" onClick={() => setAsking(true)}>
        Run sweep…
      </button>
      {result && (
        <p role="status" class="status">
          {result}
        </p>
      )}
      <Confirm
        open={asking}
        title="Run a sweep?"
        confirmLabel="Yes, sweep"
        onConfirm={run}
        onCancel={() => setAsking(false)}
      >
        <p>
          Deletes expired sessions and their logs, up to 100,000 in this run. Live sessions are not
          touched.
        </p>
      </Confirm>
    </div>
  );
}
