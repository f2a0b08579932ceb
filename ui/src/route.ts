/**
 * The page's own routes, in the path (the fragment is reserved for the token and
 * is wiped on load): `/` approvals, `/tasks` the task list, `/tasks/<ns>/<name>`
 * one task, `/pair` confirming a chat pairing code. Navigation is history.pushState; the server answers every such path
 * with the page itself.
 */
import { type MouseEvent, useEffect, useState } from 'react';

export type Route =
  | { page: 'approvals' }
  | { page: 'tasks' }
  | { page: 'task'; namespace: string; name: string }
  | { page: 'pair' };

const decode = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
};

export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter(Boolean);
  if (parts[0] === 'pair' && parts.length === 1) return { page: 'pair' };
  if (parts[0] !== 'tasks') return { page: 'approvals' };
  if (parts.length === 3) {
    const namespace = decode(parts[1]!);
    const name = decode(parts[2]!);
    if (namespace && name) return { page: 'task', namespace, name };
  }
  return { page: 'tasks' };
}

export function routePath(route: Route): string {
  switch (route.page) {
    case 'approvals':
      return '/';
    case 'tasks':
      return '/tasks';
    case 'task':
      return `/tasks/${encodeURIComponent(route.namespace)}/${encodeURIComponent(route.name)}`;
    case 'pair':
      return '/pair';
  }
}

const CHANGE = 'closedpaw:route';

/** Goes to `route`; `state` travels in the history entry (e.g. which approval to open). */
export function navigate(route: Route, state: Record<string, unknown> | null = null): void {
  history.pushState(state, '', routePath(route));
  window.dispatchEvent(new Event(CHANGE));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname));
    window.addEventListener('popstate', update);
    window.addEventListener(CHANGE, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(CHANGE, update);
    };
  }, []);
  return route;
}

/**
 * A same-page link: a real `<a href>` (keyboard, middle-click and "open in new tab" work), navigated in
 * place on a plain click.
 */
export function followLink(
  e: MouseEvent<HTMLAnchorElement>,
  route: Route,
  state?: Record<string, unknown>,
): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(route, state ?? null);
}
