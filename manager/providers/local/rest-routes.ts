import { parseLabelSelector } from '../opennebula/rest-api.ts';

/** The routes of `brokel cloud serve` (pure): which operation a method and target select. */
export type CloudRoute =
  | { kind: 'create' }
  | { kind: 'list'; selector: Record<string, string> }
  | { kind: 'show'; id: string }
  | { kind: 'delete'; id: string }
  | { kind: 'bad-request'; message: string }
  | { kind: 'not-found'; path: string }
  | { kind: 'wrong-method'; path: string; allow: string };

const VM_PATH = /^\/vms\/([^/]+)$/;

export function resolveCloudRoute(method: string | undefined, target: string | undefined): CloudRoute {
  const url = new URL(target ?? '/', 'http://cloud.invalid');
  const path = url.pathname;
  if (path === '/vms') {
    if (method === 'POST') return { kind: 'create' };
    if (method !== 'GET') return { kind: 'wrong-method', path, allow: 'GET, POST' };
    const selector = parseLabelSelector(url.searchParams.getAll('label'));
    if (!selector) return { kind: 'bad-request', message: 'label must be KEY=VALUE' };
    return { kind: 'list', selector };
  }
  const match = VM_PATH.exec(path);
  if (!match?.[1]) return { kind: 'not-found', path };
  let id: string;
  try {
    id = decodeURIComponent(match[1]);
  } catch {
    return { kind: 'bad-request', message: `bad VM id in ${path}` };
  }
  if (method === 'GET') return { kind: 'show', id };
  if (method === 'DELETE') return { kind: 'delete', id };
  return { kind: 'wrong-method', path, allow: 'GET, DELETE' };
}
