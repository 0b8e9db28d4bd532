/** What the dashboard's JSON API returns (src/api.ts on the server). */
export type SessionState = 'active' | 'idle' | 'suspended' | 'closed';
export const STATES: readonly SessionState[] = ['active', 'idle', 'suspended', 'closed'];

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Config {
  write: boolean;
  refreshMs: number;
  pageSize: number;
  logPageSize: number;
  logs: { name: string; sealed: boolean }[];
  capabilities: { durable: boolean; sharedAcrossProcesses: boolean; nativeExpiry: boolean };
}

export interface Stats {
  now: number;
  total: number;
  byState: Record<SessionState, number>;
  expired: number;
  messages: number;
  oldestCreatedAt: number | null;
}

export interface SessionSummary {
  id: string;
  state: SessionState;
  owner: string | null;
  createdAt: number;
  lastActivityAt: number;
  expiresAt: number | null;
  version: number;
  messageCount: number;
}

export interface SessionPage {
  now: number;
  records: SessionSummary[];
  nextCursor: string | null;
}

export interface SessionDetail {
  now: number;
  record: SessionSummary & { context: Record<string, Json>; metadata: Record<string, Json> };
  logs: { name: string; sealed: boolean }[];
}

export interface LogPage {
  name: string;
  sealed: boolean;
  entries: { seq: number; at: number; data?: Json; sealedBytes?: number }[];
  hasOlder: boolean;
}

/** A request the server refused or could not answer, with its message (never a secret). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  // Relative to the page, so the dashboard works at any mount path; the cookie carries the token.
  const response = await fetch(`api/${path}`, {
    ...init,
    credentials: 'same-origin',
    headers: { accept: 'application/json', ...(init.headers ?? {}) },
  });
  if (!response.ok) {
    let message = `the server answered ${response.status}`;
    if (response.status === 401)
      message = 'the token is missing or wrong: open the URL the dashboard printed again';
    try {
      const body = (await response.json()) as { message?: string };
      if (response.status !== 401 && body.message) message = body.message;
    } catch {}
    throw new ApiFailure(response.status, message);
  }
  return (await response.json()) as T;
}

const post = <T>(path: string, body: unknown) =>
  call<T>(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

const query = (params: Record<string, string | number | null | undefined>) => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
};

export const api = {
  config: () => call<Config>('config'),
  stats: () => call<Stats>('stats'),
  sessions: (filter: { state?: string; owner?: string; cursor?: string | null }) =>
    call<SessionPage>(`sessions${query(filter)}`),
  session: (id: string) => call<SessionDetail>(`sessions/${encodeURIComponent(id)}`),
  log: (id: string, log: string, beforeSeq: number | null) =>
    call<LogPage>(
      `sessions/${encodeURIComponent(id)}/logs/${encodeURIComponent(log)}${query({ beforeSeq })}`,
    ),
  close: (id: string) =>
    post<{ changed: boolean }>(`sessions/${encodeURIComponent(id)}/close`, { confirm: id }),
  sweep: () => post<{ swept: number; more: boolean }>('sweep', { confirm: 'sweep' }),
};
