/** The password every URL of `storeUrlsWithSecret` carries; no message may contain it. */
export const URL_SECRET = 'Hunter2pw';

/**
 * Store URLs that carry `URL_SECRET` in every form a password reaches a store URL, each malformed, of an
 * unknown scheme or with a bad option, so opening it fails without any I/O (regression: a URL without a
 * scheme printed its password). A message about any of them must contain neither `URL_SECRET` nor its
 * %-encoded spelling `Hunter%32pw`.
 */
export function storeUrlsWithSecret(): string[] {
  const s = URL_SECRET;
  return [
    `user:${s}@host/db`,
    `//user:${s}@host`,
    `//user:${s}@host/db?x=1`,
    `:${s}@host`,
    `nosuch://user:${s}@host`,
    `mysql://user:${s}@host/db`,
    `redis:user:${s}@host`,
    `redis://user:a/${s}@host/0`,
    `redis://user:a?${s}@host/0`,
    `redis://user:a#${s}@host/0`,
    `redis://user:Hunter%32pw@host/0/extra`,
    `redis://user:${s}%ZZ@host/0`,
    `redis://host/0?password=${s}`,
    `redis://host/0?pass%77ord=${s}`,
    `rediss://user:${s}@host/abc`,
    `postgres://user:a/${s}@host/db`,
    `postgres://user:${s}@host/db?schema=x&bogus=1`,
    `postgres://user@host/db?password=${s}&schema=1bad`,
    `sqlite://user:${s}@host/x.db`,
    `sqlite:./x.db?password=${s}`,
    `file:./sessions?token=${s}`,
    `memory:user:${s}@host`,
  ];
}
