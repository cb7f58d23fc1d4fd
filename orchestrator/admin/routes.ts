/** The admin API's routes (pure): which handler a method and path select, or why none does. */

export type RouteName = 'status' | 'brokers' | 'drain' | 'evict' | 'healthz' | 'metrics';

interface RouteSpec {
  method: 'GET' | 'PUT' | 'POST';
  /** The handler reads a JSON body. */
  body: boolean;
}

export const ROUTES: Readonly<Record<string, RouteSpec & { name: RouteName }>> = {
  '/status': { name: 'status', method: 'GET', body: false },
  '/brokers': { name: 'brokers', method: 'PUT', body: true },
  '/drain': { name: 'drain', method: 'POST', body: true },
  '/evict': { name: 'evict', method: 'POST', body: true },
  '/healthz': { name: 'healthz', method: 'GET', body: false },
  '/metrics': { name: 'metrics', method: 'GET', body: false },
};

export type RouteMatch =
  | { kind: 'route'; name: RouteName; body: boolean }
  | { kind: 'not-found'; path: string }
  | { kind: 'wrong-method'; path: string; allow: string };

/** The path part of a request target (`/status?x=1` → `/status`); origin-form only. */
export function pathOf(target: string | undefined): string {
  const raw = target ?? '/';
  const q = raw.search(/[?#]/);
  return q === -1 ? raw : raw.slice(0, q);
}

export function resolveRoute(method: string | undefined, target: string | undefined): RouteMatch {
  const path = pathOf(target);
  const spec = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
  if (!spec) return { kind: 'not-found', path };
  if (method !== spec.method) return { kind: 'wrong-method', path, allow: spec.method };
  return { kind: 'route', name: spec.name, body: spec.body };
}
