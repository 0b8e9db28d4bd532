import { useState } from 'preact/hooks';
import { api, STATES } from './api.ts';
import { Failure, StateBadge, Time, useLoad } from './common.tsx';
import { count } from './format.ts';
import { sessionHref, sessionsHref } from './route.ts';

/**
 * The cursor stack of the last listing, kept across visits to a session so "back" returns to the same
 * page: entry i is the cursor that fetched page i (null for the first).
 */
const remembered = { key: '', cursors: [null] as (string | null)[] };

/** Live sessions, filtered by state and owner, paged with the store's cursor (no offset, no count). */
export function Sessions({ state, owner }: { state: string; owner: string }) {
  const key = `${state}\u0000${owner}`;
  if (remembered.key !== key) Object.assign(remembered, { key, cursors: [null] });
  const [cursors, setCursors] = useState<(string | null)[]>(remembered.cursors);
  const cursor = cursors[cursors.length - 1] ?? null;
  const [page] = useLoad(() => api.sessions({ state, owner, cursor }), `${key}\u0000${cursor}`);
  const move = (next: (string | null)[]) => {
    remembered.cursors = next;
    setCursors(next);
  };

  return (
    <section aria-labelledby="sessions-title">
      <h1 id="sessions-title">Sessions</h1>
      <Filters state={state} owner={owner} />
      {page.status === 'loading' && <p class="muted">Loading…</p>}
      {page.status === 'failed' && <Failure message={page.message} />}
      {page.status === 'ok' && (
        <>
          {page.value.records.length === 0 ? (
            <p class="empty">No live sessions match.</p>
          ) : (
            <table class="sessions">
              <caption class="visually-hidden">Sessions, ordered by storage id</caption>
              <thead>
                <tr>
                  <th scope="col">Storage id</th>
                  <th scope="col">State</th>
                  <th scope="col">Owner</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last active</th>
                  <th scope="col">Expires</th>
                  <th scope="col" class="number">
                    Messages
                  </th>
                </tr>
              </thead>
              <tbody>
                {page.value.records.map((record) => (
                  <tr key={record.id}>
                    <td data-label="Storage id" class="id">
                      <a href={sessionHref(record.id)}>{record.id}</a>
                    </td>
                    <td data-label="State">
                      <StateBadge state={record.state} />
                    </td>
                    <td data-label="Owner" class="owner">
                      {record.owner ?? <span class="muted">unbound</span>}
                    </td>
                    <td data-label="Created">
                      <Time at={record.createdAt} now={page.value.now} />
                    </td>
                    <td data-label="Last active">
                      <Time at={record.lastActivityAt} now={page.value.now} />
                    </td>
                    <td data-label="Expires">
                      <Time at={record.expiresAt} now={page.value.now} />
                    </td>
                    <td data-label="Messages" class="number">
                      {count(record.messageCount)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <nav class="pager" aria-label="Pages">
            <button
              type="button"
              disabled={cursors.length === 1}
              onClick={() => move(cursors.slice(0, -1))}
            >
              ← Previous
            </button>
            <span class="page-number" aria-live="polite">
              Page {cursors.length}
            </span>
            <button
              type="button"
              disabled={page.value.nextCursor === null}
              onClick={() => move([...cursors, page.value.nextCursor])}
            >
              Next →
            </button>
          </nav>
        </>
      )}
    </section>
  );
}

function Filters({ state, owner }: { state: string; owner: string }) {
  const [ownerText, setOwnerText] = useState(owner);
  const [stateValue, setStateValue] = useState(state);
  return (
    <form
      class="filters"
      onSubmit={(event) => {
        event.preventDefault();
        location.hash = sessionsHref({ state: stateValue, owner: ownerText.trim() });
      }}
    >
      <label>
        State
        <select
          name="state"
          value={stateValue}
          onChange={(e) => setStateValue(e.currentTarget.value)}
        >
          <option value="">any</option>
          {STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Owner
        <input
          name="owner"
          type="search"
          value={ownerText}
          placeholder="exact owner, e.g. user:42"
          onInput={(e) => setOwnerText(e.currentTarget.value)}
        />
      </label>
      <button type="submit">Filter</button>
      {(state !== '' || owner !== '') && (
        <a class="reset" href={sessionsHref()}>
          Clear filters
        </a>
      )}
    </form>
  );
}
