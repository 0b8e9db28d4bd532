const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * A short human duration: `850ms`, `12s`, `5m 03s`, `2h 07m`, `3d 04h`. Only the two largest units are
 * shown: an operator reading a table wants the order of magnitude, not the milliseconds.
 */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < SECOND) return `${Math.round(abs)}ms`;
  if (abs < MINUTE) return `${Math.floor(abs / SECOND)}s`;
  if (abs < HOUR) return twoUnits(abs, MINUTE, 'm', SECOND, 's');
  if (abs < DAY) return twoUnits(abs, HOUR, 'h', MINUTE, 'm');
  return twoUnits(abs, DAY, 'd', HOUR, 'h');
}

function twoUnits(ms: number, big: number, bigUnit: string, small: number, smallUnit: string) {
  const major = Math.floor(ms / big);
  const minor = Math.floor((ms % big) / small);
  return `${major}${bigUnit} ${String(minor).padStart(2, '0')}${smallUnit}`;
}

/**
 * A time relative to `now`: `12s ago`, `in 5m`, `3d ago`, `just now`. One unit only, rounded down, so a
 * column of them stays narrow.
 */
export function formatRelative(at: number, now: number): string {
  const delta = at - now;
  const abs = Math.abs(delta);
  if (abs < SECOND) return 'just now';
  let text: string;
  if (abs < MINUTE) text = `${Math.floor(abs / SECOND)}s`;
  else if (abs < HOUR) text = `${Math.floor(abs / MINUTE)}m`;
  else if (abs < DAY) text = `${Math.floor(abs / HOUR)}h`;
  else if (abs < 365 * DAY) text = `${Math.floor(abs / DAY)}d`;
  else text = `${Math.floor(abs / (365 * DAY))}y`;
  return delta < 0 ? `${text} ago` : `in ${text}`;
}

/** An absolute time as ISO 8601 UTC, for detail views where the exact moment matters. */
export function formatTimestamp(at: number): string {
  return new Date(at).toISOString();
}

/** An expiry: `never`, `expired 5m ago`, or `in 25m`. */
export function formatExpiry(expiresAt: number | null, now: number): string {
  if (expiresAt === null) return 'never';
  return expiresAt <= now
    ? `expired ${formatRelative(expiresAt, now)}`
    : formatRelative(expiresAt, now);
}

/**
 * `1,234,567`: counts are read by people, so group the digits. By hand rather than with
 * `toLocaleString`, whose first call loads locale data (a third of a second here).
 */
export function formatCount(n: number): string {
  const [whole = '', fraction] = String(n).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

/** Parses a duration such as `90s`, `30m`, `1h`, `2d`, `500ms` or a plain number of milliseconds. */
export function parseDuration(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match?.[1]) return null;
  const value = Number(match[1]);
  const unit = match[2] ?? 'ms';
  const factor = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY }[unit] ?? 1;
  const ms = Math.round(value * factor);
  return Number.isSafeInteger(ms) ? ms : null;
}
