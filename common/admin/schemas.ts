import { ConfigError, type FieldProblem } from '../errors.ts';
import type { EvictMove, EvictRequest } from '../eviction-contract.ts';
import { Checks, join } from './body-checks.ts';
import { type DesiredBroker, parseBrokerUrl } from './contract.ts';

/**
 * Request bodies of the admin API (pure: no I/O). Every failure is a ConfigError naming the path and
 * the bad value (`brokers[1].state: "x" is not one of "joining", "active", "draining"`), which the
 * server answers with 400. Checked by hand (body-checks.ts), not with zod: an orchestrator replica
 * serves this API, and zod alone is ~11 MB of its idle RSS.
 */

/** Brokers one PUT /brokers may name; far above any pool the manager builds (sla.maxReplicas). */
export const MAX_BROKERS = 1000;
/** Longest drain grace period a caller may ask for. */
export const MAX_DRAIN_GRACE_MS = 600_000;
/** Moves one POST /evict may name (one per target orchestrator). */
export const MAX_EVICT_MOVES = 64;

const STATES = ['joining', 'active', 'draining'] as const;

// MQTT 5 §3.14.2.2.2: a UTF-8 string the client may use to find another server; in practice one
// `host:port` or several separated by spaces. No whitespace inside a reference, no control characters.
const SERVER_REFERENCE = /^[^\s\p{Cc}]+( [^\s\p{Cc}]+)*$/u;
const NOT_A_REFERENCE = 'is not a server reference (host:port, several separated by spaces)';

export interface DrainRequest {
  serverReference?: string | undefined;
  graceMs?: number | undefined;
}

function done<T>(checks: Checks, value: T): T {
  if (checks.problems.length > 0) throw new ConfigError(checks.problems);
  return Object.freeze(value);
}

function serverReference(checks: Checks, path: string, value: unknown): string | undefined {
  return checks.format(path, value, 1024, SERVER_REFERENCE, NOT_A_REFERENCE);
}

/**
 * Validates a PUT /brokers body into the desired pool. Beyond the shape: every URL must parse as
 * `mqtt://host:port`, and no broker may be named twice (`mqtt://h` and `mqtt://h:1883` are one broker).
 * All problems are reported at once; nothing is applied unless all is well.
 */
export function parseBrokersBody(input: unknown): DesiredBroker[] {
  const checks = new Checks();
  const body = checks.object('(root)', input);
  const out: DesiredBroker[] = [];
  if (body) {
    const list = checks.array('brokers', body.brokers, MAX_BROKERS);
    list?.forEach((item, i) => {
      const path = join('brokers', i);
      const entry = checks.object(path, item);
      if (!entry) return;
      const url = checks.string(join(path, 'url'), entry.url, 1, 2048);
      const state = checks.oneOf(join(path, 'state'), entry.state, STATES);
      const fence =
        entry.retainedFence === undefined
          ? false
          : checks.boolean(join(path, 'retainedFence'), entry.retainedFence);
      const wildcard =
        entry.retainedWildcardRead === undefined
          ? true
          : checks.boolean(join(path, 'retainedWildcardRead'), entry.retainedWildcardRead);
      checks.unknownKeys(path, entry, ['url', 'state', 'retainedFence', 'retainedWildcardRead']);
      if (url !== undefined && state !== undefined)
        out.push({
          url,
          state,
          ...(fence ? { retainedFence: true } : {}),
          ...(wildcard === false ? { retainedWildcardRead: false } : {}),
        });
    });
    if (list && list.length === 0)
      checks.problems.push({ path: 'brokers', message: 'must name at least one broker' });
    checks.unknownKeys('(root)', body, ['brokers']);
  }
  if (checks.problems.length > 0) throw new ConfigError(checks.problems);
  const problems: FieldProblem[] = [];
  const seen = new Map<string, number>();
  out.forEach((b, i) => {
    const path = `brokers[${i}].url`;
    try {
      const { id } = parseBrokerUrl(b.url, path);
      const first = seen.get(id);
      if (first === undefined) seen.set(id, i);
      else problems.push({ path, message: `${JSON.stringify(b.url)} is brokers[${first}] again (${id})` });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}

/** Validates a POST /evict body (see common/eviction-contract.ts). */
export function parseEvictBody(input: unknown): EvictRequest {
  const checks = new Checks();
  const body = checks.object('(root)', input ?? {});
  if (!body) return done(checks, { moves: [], perSecond: 0, minAgeSeconds: 0 });
  const moves: EvictMove[] = [];
  checks.array('moves', body.moves, MAX_EVICT_MOVES)?.forEach((item, i) => {
    const path = join('moves', i);
    const move = checks.object(path, item);
    if (!move) return;
    const count = checks.number(join(path, 'count'), move.count, { min: 0, max: 10_000_000, int: true });
    const reference =
      move.serverReference === undefined
        ? undefined
        : serverReference(checks, join(path, 'serverReference'), move.serverReference);
    checks.unknownKeys(path, move, ['count', 'serverReference']);
    if (count !== undefined)
      moves.push({ count, ...(reference !== undefined ? { serverReference: reference } : {}) });
  });
  const perSecond = checks.number('perSecond', body.perSecond, { min: 0, max: 1_000_000, above: true }) ?? 0;
  const minAgeSeconds =
    body.minAgeSeconds === undefined
      ? 0
      : (checks.number('minAgeSeconds', body.minAgeSeconds, { min: 0, max: 86_400 }) ?? 0);
  const stopAccepting =
    body.stopAccepting === undefined ? undefined : checks.boolean('stopAccepting', body.stopAccepting);
  checks.unknownKeys('(root)', body, ['moves', 'perSecond', 'minAgeSeconds', 'stopAccepting']);
  return done(checks, {
    moves,
    perSecond,
    minAgeSeconds,
    ...(stopAccepting !== undefined ? { stopAccepting } : {}),
  });
}

/** Validates a POST /drain body; an absent body means "no reference, the default grace period". */
export function parseDrainBody(input: unknown): DrainRequest {
  const checks = new Checks();
  const body = checks.object('(root)', input ?? {});
  if (!body) return done(checks, {});
  const reference =
    body.serverReference === undefined
      ? undefined
      : serverReference(checks, 'serverReference', body.serverReference);
  const graceMs =
    body.graceMs === undefined
      ? undefined
      : checks.number('graceMs', body.graceMs, { min: 0, max: MAX_DRAIN_GRACE_MS, int: true });
  checks.unknownKeys('(root)', body, ['serverReference', 'graceMs']);
  return done(checks, {
    ...(reference !== undefined ? { serverReference: reference } : {}),
    ...(graceMs !== undefined ? { graceMs } : {}),
  });
}
