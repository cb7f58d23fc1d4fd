import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { parseBrokersBody, parseDrainBody, parseEvictBody } from '../../common/admin/schemas.ts';
import { validate } from '../../common/config/load.ts';
import { ConfigError } from '../../common/errors.ts';
import { mulberry32 } from '../../workload/taxi-rome/random.ts';

// The admin API's bodies are checked by hand (common/admin/body-checks.ts, so a replica never loads
// zod); these zod schemas are what they replaced. Both must accept and refuse the same bodies, with
// the same problems, on random and mutated input.
const reference = /^[^\s\p{Cc}]+( [^\s\p{Cc}]+)*$/u;
const serverReference = z
  .string()
  .max(1024)
  .regex(reference, 'is not a server reference (host:port, several separated by spaces)');
const brokers = z.strictObject({
  brokers: z
    .array(
      z.strictObject({
        url: z.string().min(1).max(2048),
        state: z.enum(['joining', 'active', 'draining']),
        retainedFence: z.boolean().optional(),
        retainedWildcardRead: z.boolean().optional(),
      }),
    )
    .max(1000)
    .refine((list) => list.length > 0, 'must name at least one broker'),
});
const drain = z.strictObject({
  serverReference: serverReference.optional(),
  graceMs: z.number().int().min(0).max(600_000).optional(),
});
const evict = z.strictObject({
  moves: z
    .array(
      z.strictObject({
        count: z.number().int().min(0).max(10_000_000),
        serverReference: serverReference.optional(),
      }),
    )
    .max(64),
  perSecond: z.number().positive().max(1_000_000),
  minAgeSeconds: z.number().min(0).max(86_400).default(0),
  stopAccepting: z.boolean().optional(),
});

function outcome(parse: () => unknown): string {
  try {
    return `ok ${JSON.stringify(parse())}`;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // The first problem of each path: for a value of the wrong type zod may add a second one (`[]`
    // for a string with min(1): "a list is below 1"), which the hand checks do not repeat.
    const first = new Map<string, string>();
    for (const p of err.problems) if (!first.has(p.path)) first.set(p.path, p.message);
    return `refused ${JSON.stringify([...first])}`;
  }
}

describe('admin API bodies: hand checks against the zod schemas they replaced', () => {
  it('agree on 30,000 random and mutated bodies', () => {
    const rand = mulberry32(12);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const leaves = [
      null,
      0,
      -1,
      1.5,
      2,
      5,
      600_001,
      1e12,
      Number.NaN,
      'x',
      '',
      'a:1 b:2',
      'a\tb',
      'mqtt://a:1',
      'mqtt://h',
      'active',
      'joining',
      'draining',
      true,
      false,
      undefined,
    ];
    const keys = [
      'brokers',
      'url',
      'state',
      'retainedFence',
      'retainedWildcardRead',
      'moves',
      'count',
      'serverReference',
      'perSecond',
      'minAgeSeconds',
      'stopAccepting',
      'graceMs',
      'x',
    ];
    const value = (depth: number): unknown => {
      const r = rand();
      if (depth > 3 || r < 0.4) return pick(leaves);
      if (r < 0.6) return Array.from({ length: Math.floor(rand() * 3) }, () => value(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(rand() * 4); i > 0; i--) o[pick(keys)] = value(depth + 1);
      return o;
    };
    const valid = (): unknown =>
      pick([
        {
          brokers: [
            { url: 'mqtt://a:1', state: 'active' },
            { url: 'mqtt://b:1', state: 'joining', retainedFence: true },
          ],
        },
        { serverReference: 'h:1883', graceMs: 250 },
        {
          moves: [{ count: 3, serverReference: 'h:1883' }],
          perSecond: 5,
          minAgeSeconds: 1,
          stopAccepting: true,
        },
      ]);
    const mutate = (v: unknown, depth = 0): unknown => {
      if (typeof v !== 'object' || v === null || depth > 3 || rand() < 0.3)
        return rand() < 0.5 ? value(2) : v;
      if (Array.isArray(v)) return v.map((x) => mutate(x, depth + 1));
      const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
      const k = pick(Object.keys(o).length > 0 ? Object.keys(o) : keys);
      if (rand() < 0.2) delete o[k];
      else o[k] = mutate(o[k], depth + 1);
      return o;
    };
    let refused = 0;
    for (let i = 0; i < 30_000; i++) {
      const input = rand() < 0.5 ? value(0) : mutate(valid());
      const cases: Array<[string, () => unknown, () => unknown]> = [
        [
          'brokers',
          () => parseBrokersBody(input),
          () =>
            validate(brokers, input).brokers.map((b) => ({
              url: b.url,
              state: b.state,
              ...(b.retainedFence ? { retainedFence: true } : {}),
              ...(b.retainedWildcardRead === false ? { retainedWildcardRead: false } : {}),
            })),
        ],
        ['drain', () => parseDrainBody(input), () => validate(drain, input ?? {})],
        ['evict', () => parseEvictBody(input), () => validate(evict, input ?? {})],
      ];
      for (const [name, hand, zod] of cases) {
        let expected = outcome(zod);
        // The URL checks come after the shape in both (parseBrokersBody runs them on what zod accepted).
        if (name === 'brokers' && expected.startsWith('ok'))
          expected = outcome(() => parseBrokersBody(input));
        const got = outcome(hand);
        if (got.startsWith('refused')) refused += 1;
        assert.equal(got, expected, `${name}: ${JSON.stringify(input)}`);
      }
    }
    assert.ok(refused > 10_000, `mostly refusals, but not only: ${refused}`);
  });
});
