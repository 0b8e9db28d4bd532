const UNITS: [number, string][] = [
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'min'],
  [1_000, 's'],
];

/** "3 h", "12 min", "40 s". */
export function duration(ms: number): string {
  const abs = Math.abs(ms);
  for (const [size, unit] of UNITS) {
    if (abs >= size) return `${Math.floor(abs / size)} ${unit}`;
  }
  return `${abs} ms`;
}

/** "5 min ago" / "in 2 h", relative to `now`. */
export function relative(at: number, now: number): string {
  return at <= now ? `${duration(now - at)} ago` : `in ${duration(at - now)}`;
}

/** An exact time, for titles and the session page: UTC, to the second (`2026-12-07 14:03:09Z`). */
export function exact(at: number): string {
  return `${new Date(at).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

const numbers = new Intl.NumberFormat('en');
export const count = (n: number) => numbers.format(n);
