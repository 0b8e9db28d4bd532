import { SESSION_STATES, type SessionManager } from '@mcp-session/core';
import type { McpSessionHandler } from '@mcp-session/mcp';
import type { StateHandles } from '@mcp-session/mcp/handles';

/**
 * Prometheus text exposition (format 0.0.4). Store gauges come from the store's own aggregates and are
 * the same on every instance; counters are this process's, since it started.
 */
export async function renderMetrics(
  manager: SessionManager,
  handler: McpSessionHandler,
  handles: StateHandles,
  instance: string,
): Promise<string> {
  const { counters, store } = await manager.getMetrics();
  const { liveSessions, counters: glue } = handler.stats();
  const handleCounters = handles.stats();
  const label = `instance="${escapeLabel(instance)}"`;
  const lines: string[] = [];
  const metric = (
    name: string,
    type: 'gauge' | 'counter',
    help: string,
    samples: [labels: string, value: number][],
  ) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}{${labels}} ${value}`);
  };
  metric(
    'mcp_sessions',
    'gauge',
    'Sessions in the store that have not expired (MCP sessions and state handles alike), by state.',
    SESSION_STATES.map((state) => [`state="${state}"`, store.byState[state]]),
  );
  metric('mcp_sessions_expired_unswept', 'gauge', 'Expired sessions not swept yet.', [
    ['', store.expired],
  ]);
  metric('mcp_store_messages', 'gauge', 'Messages ever added to the sessions in the store.', [
    ['', store.messages],
  ]);
  metric(
    'mcp_sessions_created_total',
    'counter',
    'Sessions created by this process (state handles included).',
    [[label, counters.sessionsCreated]],
  );
  metric(
    'mcp_sessions_resumed_total',
    'counter',
    'Sessions resumed by a preferred session id, by this process.',
    [[label, counters.sessionsResumed]],
  );
  metric('mcp_sessions_expired_total', 'counter', 'Expired sessions swept by this process.', [
    [label, counters.sessionsExpired],
  ]);
  metric('mcp_sessions_closed_total', 'counter', 'Sessions closed by this process (DELETE).', [
    [label, counters.sessionsClosed],
  ]);
  metric('mcp_messages_total', 'counter', 'History messages added by this process.', [
    [label, counters.messagesAdded],
  ]);
  metric(
    'mcp_sessions_rebuilt_total',
    'counter',
    'Sessions this process rebuilt from the store (restart, other instance, eviction).',
    [[label, glue.rebuilt]],
  );
  metric(
    'mcp_sessions_evicted_total',
    'counter',
    'Idle sessions this process dropped from memory.',
    [[label, glue.evicted]],
  );
  metric(
    'mcp_requests_session_not_found_total',
    'counter',
    'Requests answered 404 (unknown, expired, closed or foreign session).',
    [[label, glue.notFound]],
  );
  metric('mcp_state_handles_minted_total', 'counter', 'State handles minted by this process.', [
    [label, handleCounters.minted],
  ]);
  metric(
    'mcp_state_handles_not_found_total',
    'counter',
    'Handle uses refused as unknown, expired, closed, malformed or another user’s.',
    [[label, handleCounters.notFound]],
  );
  metric(
    'mcp_state_handles_unauthenticated_total',
    'counter',
    'Handle mints or uses refused because the caller was not authenticated.',
    [[label, handleCounters.unauthenticated]],
  );
  metric('mcp_live_sessions', 'gauge', 'Sessions held in this process’s memory.', [
    [label, liveSessions],
  ]);
  return `${lines.join('\n').replaceAll('{}', '')}\n`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
