import { useState } from 'preact/hooks';
import { api, type SessionDetail } from './api.ts';
import { Confirm, Failure, StateBadge, Time, useLoad } from './common.tsx';
import { count, exact } from './format.ts';
import { JsonTree } from './json-tree.tsx';
import { sessionsHref } from './route.ts';

/** One session: its record, context and metadata as trees, and each log the dashboard shows. */
export function Session({ id, write }: { id: string; write: boolean }) {
  const [detail, reload] = useLoad(() => api.session(id), id);
  return (
    <section aria-labelledby="session-title">
      <p>
        <a href={sessionsHref()}>← Sessions</a>
      </p>
      <h1 id="session-title">
        Session <code class="id">{id}</code>
      </h1>
      {detail.status === 'loading' && <p class="muted">Loading…</p>}
      {detail.status === 'failed' && <Failure message={detail.message} />}
      {detail.status === 'ok' && <Detail detail={detail.value} write={write} reload={reload} />}
    </section>
  );
}

function Detail({
  detail,
  write,
  reload,
}: {
  detail: SessionDetail;
  write: boolean;
  reload: () => void;
}) {
  const { record, now } = detail;
  return (
    <>
      <dl class="fields">
        <dt>State</dt>
        <dd data-field="state">
          <StateBadge state={record.state} />
        </dd>
        <dt>Owner</dt>
        <dd>{record.owner ?? <span class="muted">unbound</span>}</dd>
        <dt>Created</dt>
        <dd>
          {exact(record.createdAt)} (<Time at={record.createdAt} now={now} />)
        </dd>
        <dt>Last active</dt>
        <dd>
          {exact(record.lastActivityAt)} (<Time at={record.lastActivityAt} now={now} />)
        </dd>
        <dt>Expires</dt>
        <dd>
          {record.expiresAt === null ? 'never' : exact(record.expiresAt)}
          {record.expiresAt !== null && (
            <>
              {' '}
              (<Time at={record.expiresAt} now={now} />)
            </>
          )}
        </dd>
        <dt>Messages</dt>
        <dd>{count(record.messageCount)} added in total</dd>
        <dt>Version</dt>
        <dd>{record.version}</dd>
      </dl>
      {write && record.state !== 'closed' && <CloseSession id={record.id} onClosed={reload} />}
      <h2>Context</h2>
      <div class="json">
        <JsonTree value={record.context} name="context" />
      </div>
      <h2>Metadata</h2>
      <div class="json">
        <JsonTree value={record.metadata} name="metadata" />
      </div>
      {detail.logs.map((log) => (
        <Log key={log.name} id={record.id} name={log.name} />
      ))}
    </>
  );
}

function CloseSession({ id, onClosed }: { id: string; onClosed: () => void }) {
  const [asking, setAsking] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const close = async () => {
    setAsking(false);
    try {
      await api.close(id);
      setProblem(null);
      onClosed();
    } catch (error) {
      setProblem((error as Error).message);
    }
  };
  return (
    <div class="write-actions">
      <button type="button" class="danger" onClick={() => setAsking(true)}>
        Close session…
      </button>
      {problem && <Failure message={problem} />}
      <Confirm
        open={asking}
        title="Close this session?"
        confirmLabel="Yes, close it"
        onConfirm={close}
        onCancel={() => setAsking(false)}
      >
        <p>
          Its client gets "session not found" from now on and cannot resume it. The record stays as
          a closed tombstone until it expires.
        </p>
        <p>
          <code class="id">{id}</code>
        </p>
      </Confirm>
    </div>
  );
}

/** One log, newest first, paged back with `beforeSeq` (a stack of the pages seen, for "newer"). */
function Log({ id, name }: { id: string; name: string }) {
  const [pages, setPages] = useState<(number | null)[]>([null]);
  const beforeSeq = pages[pages.length - 1] ?? null;
  const [page] = useLoad(
    () => api.log(id, name, beforeSeq),
    `${id}\u0000${name}\u0000${beforeSeq}`,
  );
  const headingId = `log-${name}`;
  return (
    <section class="log" aria-labelledby={headingId} data-log={name}>
      <h2 id={headingId}>
        Log <code>{name}</code>
        {page.status === 'ok' && page.value.sealed && <span class="badge sealed">sealed</span>}
      </h2>
      {page.status === 'loading' && <p class="muted">Loading…</p>}
      {page.status === 'failed' && <Failure message={page.message} />}
      {page.status === 'ok' && page.value.entries.length === 0 && <p class="empty">No entries.</p>}
      {page.status === 'ok' && page.value.entries.length > 0 && (
        <>
          <ol class="entries">
            {page.value.entries.map((entry) => (
              <li key={entry.seq} data-seq={entry.seq}>
                <div class="entry-head">
                  <span class="seq">#{entry.seq}</span>
                  <time dateTime={new Date(entry.at).toISOString()}>{exact(entry.at)}</time>
                </div>
                {entry.sealedBytes !== undefined ? (
                  <p class="sealed-entry">
                    Sealed ({count(entry.sealedBytes)} characters): encrypted with a key the store
                    does not hold.
                  </p>
                ) : (
                  <div class="json">
                    <JsonTree value={entry.data ?? null} openDepth={1} />
                  </div>
                )}
              </li>
            ))}
          </ol>
          <nav class="pager" aria-label={`Pages of ${name}`}>
            <button
              type="button"
              disabled={pages.length === 1}
              onClick={() => setPages(pages.slice(0, -1))}
            >
              ← Newer
            </button>
            <button
              type="button"
              disabled={!page.value.hasOlder}
              onClick={() => {
                const oldest = page.value.entries[page.value.entries.length - 1];
                if (oldest) setPages([...pages, oldest.seq]);
              }}
            >
              Older →
            </button>
          </nav>
        </>
      )}
    </section>
  );
}
