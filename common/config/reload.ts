import type { BrokelConfig } from './schema.ts';

/**
 * Sections `brokel up` reads once, at start (the provider, the API and geo-dns listeners, the topology's
 * routing, users and timeouts, the deployment's name): a new value needs a restart. Everything else
 * (monitor, smoothing, policy, proactive, levels, sla) is read at every tick and applies at once.
 */
export const RESTART_SECTIONS = [
  'deployment',
  'routing',
  'brokers',
  'provider',
  'dns',
  'api',
  'manager',
] as const;

/** Dotted paths where two JSON values differ, down to the leaves (pure). */
export function differingPaths(a: unknown, b: unknown, path = ''): string[] {
  const isObject = (x: unknown): x is Record<string, unknown> =>
    typeof x === 'object' && x !== null && !Array.isArray(x);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => differingPaths(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
}

/**
 * A reloaded file applied to the running config (pure): the live sections take the new values, the
 * restart-only ones keep the running values, and `restartRequired` names every path whose new value
 * waits for a restart (empty when the file agrees with what runs). Never accepted silently.
 */
export function applyReload(
  running: BrokelConfig,
  next: BrokelConfig,
): { config: BrokelConfig; restartRequired: string[] } {
  const restartRequired = RESTART_SECTIONS.flatMap((s) => differingPaths(running[s], next[s], s));
  const kept = Object.fromEntries(RESTART_SECTIONS.map((s) => [s, running[s]]));
  return { config: Object.freeze({ ...next, ...kept }) as BrokelConfig, restartRequired };
}
