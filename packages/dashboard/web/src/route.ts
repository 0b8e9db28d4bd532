import { useEffect, useState } from 'preact/hooks';

/** Where the page is: the hash part of the URL, so there is one HTML document at any mount path. */
export type Route =
  | { page: 'overview' }
  | { page: 'sessions'; state: string; owner: string }
  | { page: 'session'; id: string }
  | { page: 'missing' };

export function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(search);
  if (path === '' || path === '/') return { page: 'overview' };
  if (path === '/sessions')
    return { page: 'sessions', state: params.get('state') ?? '', owner: params.get('owner') ?? '' };
  const match = /^\/sessions\/([^/]+)$/.exec(path);
  if (match?.[1]) return { page: 'session', id: decodeURIComponent(match[1]) };
  return { page: 'missing' };
}

export const sessionsHref = (filter: { state?: string; owner?: string } = {}) => {
  const params = new URLSearchParams();
  if (filter.state) params.set('state', filter.state);
  if (filter.owner) params.set('owner', filter.owner);
  const text = params.toString();
  return `#/sessions${text === '' ? '' : `?${text}`}`;
};

export const sessionHref = (id: string) => `#/sessions/${encodeURIComponent(id)}`;

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', update);
    // Effects run after the first paint: a hash change before that fired no event we heard.
    update();
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}
