import { InvalidValueError } from '@mcp-session/core';

/**
 * DNS-rebinding protection: which `Host` and `Origin` headers the endpoint answers. A browser page on
 * another site can make a user's browser send requests to a server on their machine or network; the page
 * cannot choose the `Origin` header, and a rebound DNS name still shows in `Host`. So both are checked
 * before anything else is done with a request.
 */

/** Hosts served when `allowedHosts` is not set: the loopback names, any port. */
export const DEFAULT_ALLOWED_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** Host names an `Origin` may always have: a page served from the user's own machine. */
const LOOPBACK_HOSTNAMES = new Set(DEFAULT_ALLOWED_HOSTS);

/** What `allowedHosts` and `allowedOrigins` resolve to. */
export interface OriginPolicy {
  /** `'*'`, or host names (any port) and `host:port` pairs, lower case. */
  hosts: '*' | { anyPort: ReadonlySet<string>; exact: ReadonlySet<string> };
  /** `'*'`, or serialized origins (`https://app.example.com`) allowed beside loopback ones. */
  origins: '*' | ReadonlySet<string>;
}

/**
 * Checks the two options and applies their defaults.
 * @throws InvalidValueError naming the option and the entry that is not a host or an origin.
 */
export function resolveOriginPolicy(
  allowedHosts: '*' | readonly string[] | undefined,
  allowedOrigins: '*' | readonly string[] | undefined,
): OriginPolicy {
  return {
    hosts: allowedHosts === '*' ? '*' : hostSets(allowedHosts ?? DEFAULT_ALLOWED_HOSTS),
    origins: allowedOrigins === '*' ? '*' : originSet(allowedOrigins ?? []),
  };
}

/**
 * Why the policy refuses a request with these headers (a sentence naming the option to set), or null when
 * it is allowed. A missing `Host` is refused unless any host is allowed; a missing `Origin` passes (not a
 * browser, or a same-origin request).
 */
export function originPolicyRefusal(
  policy: OriginPolicy,
  host: string | undefined,
  origin: string | undefined,
): string | null {
  if (policy.hosts !== '*' && !hostAllowed(policy.hosts, host)) {
    return 'this Host is not served; add it to the allowedHosts option of createMcpSessionHandler';
  }
  if (origin !== undefined && policy.origins !== '*' && !originAllowed(policy.origins, origin)) {
    return 'requests from this Origin are not accepted; add it to the allowedOrigins option of createMcpSessionHandler';
  }
  return null;
}

function hostAllowed(
  hosts: { anyPort: ReadonlySet<string>; exact: ReadonlySet<string> },
  header: string | undefined,
): boolean {
  const parsed = header === undefined ? null : parseHost(header);
  if (!parsed) return false;
  return (
    hosts.anyPort.has(parsed.hostname) ||
    (parsed.port !== null && hosts.exact.has(`${parsed.hostname}:${parsed.port}`))
  );
}

function originAllowed(origins: ReadonlySet<string>, header: string): boolean {
  const parsed = parseOrigin(header);
  return parsed !== null && (LOOPBACK_HOSTNAMES.has(parsed.hostname) || origins.has(parsed.origin));
}

/**
 * `host` or `host:port` of a `Host` header (an IPv6 address in brackets), lower case; null for anything
 * else. Parsed by hand: `URL` would drop a default port and accept paths and credentials.
 */
function parseHost(value: string): { hostname: string; port: string | null } | null {
  const text = value.trim().toLowerCase();
  let hostname: string;
  let rest: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end === -1) return null;
    hostname = text.slice(0, end + 1);
    rest = text.slice(end + 1);
  } else {
    const colon = text.indexOf(':');
    hostname = colon === -1 ? text : text.slice(0, colon);
    rest = colon === -1 ? '' : text.slice(colon);
  }
  if (!/^(?:\[[0-9a-f:.]+\]|[a-z0-9._-]+)$/.test(hostname)) return null;
  if (rest === '') return { hostname, port: null };
  const port = rest.slice(1);
  return rest.startsWith(':') && /^\d{1,5}$/.test(port) ? { hostname, port } : null;
}

function parseOrigin(value: string): { origin: string; hostname: string } | null {
  try {
    const url = new URL(value.trim());
    if (url.origin === 'null') return null;
    return { origin: url.origin, hostname: url.hostname };
  } catch {
    return null;
  }
}

function hostSets(entries: readonly string[]): {
  anyPort: Set<string>;
  exact: Set<string>;
} {
  if (!Array.isArray(entries)) {
    throw new InvalidValueError('allowedHosts must be "*" or an array of hosts', 'allowedHosts');
  }
  const anyPort = new Set<string>();
  const exact = new Set<string>();
  for (const entry of entries) {
    const parsed = typeof entry === 'string' ? parseHost(entry) : null;
    if (!parsed) {
      throw new InvalidValueError(
        `allowedHosts entries are host names or host:port, got ${JSON.stringify(entry)}`,
        'allowedHosts',
      );
    }
    if (parsed.port === null) anyPort.add(parsed.hostname);
    else exact.add(`${parsed.hostname}:${parsed.port}`);
  }
  return { anyPort, exact };
}

function originSet(entries: readonly string[]): Set<string> {
  if (!Array.isArray(entries)) {
    throw new InvalidValueError(
      'allowedOrigins must be "*" or an array of origins',
      'allowedOrigins',
    );
  }
  const origins = new Set<string>();
  for (const entry of entries) {
    const parsed = typeof entry === 'string' ? parseOrigin(entry) : null;
    if (!parsed) {
      throw new InvalidValueError(
        `allowedOrigins entries are origins such as "https://app.example.com", got ${JSON.stringify(entry)}`,
        'allowedOrigins',
      );
    }
    origins.add(parsed.origin);
  }
  return origins;
}
