import { z } from 'zod';
import { validate } from '../config/load.ts';
import { ConfigError, type FieldProblem } from '../errors.ts';
import type { EvictRequest } from '../eviction-contract.ts';
import { type DesiredBroker, parseBrokerUrl } from './contract.ts';

/**
 * Request bodies of the admin API (pure: no I/O). Every failure is a ConfigError naming the path and
 * the bad value (`brokers[1].state: "x" is not one of "joining", "active", "draining"`), which the
 * server answers with 400.
 */

/** Brokers one PUT /brokers may name; far above any pool the manager builds (sla.maxReplicas). */
export const MAX_BROKERS = 1000;
/** Longest drain grace period a caller may ask for. */
export const MAX_DRAIN_GRACE_MS = 600_000;

export const brokersBodySchema = z.strictObject({
  brokers: z
    .array(
      z.strictObject({
        url: z.string().min(1).max(2048),
        state: z.enum(['joining', 'active', 'draining']),
        retainedFence: z.boolean().optional(),
      }),
    )
    .max(MAX_BROKERS)
    .refine((list) => list.length > 0, 'must name at least one broker'),
});

// MQTT 5 §3.14.2.2.2: a UTF-8 string the client may use to find another server; in practice one
// `host:port` or several separated by spaces. No whitespace inside a reference, no control characters.
const serverReference = z
  .string()
  .max(1024)
  .regex(
    /^[^\s\p{Cc}]+( [^\s\p{Cc}]+)*$/u,
    'is not a server reference (host:port, several separated by spaces)',
  );

export const drainBodySchema = z.strictObject({
  serverReference: serverReference.optional(),
  graceMs: z.number().int().min(0).max(MAX_DRAIN_GRACE_MS).optional(),
});

export type DrainRequest = z.infer<typeof drainBodySchema>;

/** Moves one POST /evict may name (one per target orchestrator). */
export const MAX_EVICT_MOVES = 64;

export const evictBodySchema = z.strictObject({
  moves: z
    .array(
      z.strictObject({
        count: z.number().int().min(0).max(10_000_000),
        serverReference: serverReference.optional(),
      }),
    )
    .max(MAX_EVICT_MOVES),
  perSecond: z.number().positive().max(1_000_000),
  minAgeSeconds: z.number().min(0).max(86_400).default(0),
  stopAccepting: z.boolean().optional(),
});

/**
 * Validates a PUT /brokers body into the desired pool. Beyond the schema: every URL must parse as
 * `mqtt://host:port`, and no broker may be named twice (`mqtt://h` and `mqtt://h:1883` are one broker).
 * All problems are reported at once; nothing is applied unless all is well.
 */
export function parseBrokersBody(input: unknown): DesiredBroker[] {
  const body = validate(brokersBodySchema, input);
  const problems: FieldProblem[] = [];
  const seen = new Map<string, number>();
  body.brokers.forEach((b, i) => {
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
  return body.brokers.map((b) => ({
    url: b.url,
    state: b.state,
    ...(b.retainedFence ? { retainedFence: true } : {}),
  }));
}

/** Validates a POST /evict body (see common/eviction-contract.ts). */
export function parseEvictBody(input: unknown): EvictRequest {
  return validate(evictBodySchema, input ?? {}) as EvictRequest;
}

/** Validates a POST /drain body; an absent body means "no reference, the default grace period". */
export function parseDrainBody(input: unknown): DrainRequest {
  return validate(drainBodySchema, input ?? {});
}
