import { z } from 'zod';
import { BrokelError } from '../../common/errors.ts';

/**
 * The capacity curve (issue #14): per broker template and CPU quota, the highest msg/s that n brokers
 * carry with delivery p99 under the SLO. Demand at a moment is the smallest n that carries its offered
 * load. `brokel calibrate` measures it and writes it as JSON in this shape. Pure (parsing a string).
 */
export const capacityCurveSchema = z.strictObject({
  template: z.string().min(1),
  cpuQuota: z.number().positive(),
  sloMs: z.number().positive(),
  /** Measured points, one per broker count, in increasing n. */
  points: z
    .array(
      z.strictObject({
        brokers: z.number().int().min(1),
        /** Highest offered msg/s with delivery p99 ≤ sloMs. */
        msgPerSecond: z.number().positive(),
        /** Mean broker CPU (fraction of its quota) at that rate, when measured. */
        cpu: z.number().min(0).max(1.5).optional(),
      }),
    )
    .min(1),
  measuredAt: z.string().optional(),
});
export type CapacityCurve = z.infer<typeof capacityCurveSchema>;

export function parseCapacityCurve(text: string, source = 'capacity curve'): CapacityCurve {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BrokelError('capacity_curve_invalid', `${source}: not JSON (${String(err)})`);
  }
  const parsed = capacityCurveSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new BrokelError(
      'capacity_curve_invalid',
      `${source}: ${first?.path.join('.') || '(root)'}: ${first?.message ?? 'invalid'}`,
    );
  }
  const points = [...parsed.data.points].sort((a, b) => a.brokers - b.brokers);
  for (let i = 1; i < points.length; i++) {
    if (points[i]?.brokers === points[i - 1]?.brokers)
      throw new BrokelError(
        'capacity_curve_invalid',
        `${source}: two points for ${points[i]?.brokers} brokers`,
      );
  }
  return { ...parsed.data, points };
}

/** A linear curve: each broker carries `perBrokerMsgPerSecond` (the simulator's default model). */
export function linearCurve(perBrokerMsgPerSecond: number, sloMs = 200): CapacityCurve {
  return {
    template: 'model',
    cpuQuota: 1,
    sloMs,
    points: [{ brokers: 1, msgPerSecond: perBrokerMsgPerSecond }],
  };
}

/**
 * msg/s that n brokers carry: the measured point; between points, linear; below the first, the first
 * point's per-broker rate; past the last, the last point's per-broker rate (linear scale-out). A point
 * below a smaller count's (noise on a shared machine) is lifted to it: more brokers never carry less.
 */
export function carried(curve: CapacityCurve, n: number): number {
  if (n <= 0) return 0;
  let lift = 0;
  const points = curve.points.map((p) => {
    lift = Math.max(lift, p.msgPerSecond);
    return { brokers: p.brokers, msgPerSecond: lift };
  });
  const first = points[0] as (typeof points)[number];
  const last = points[points.length - 1] as (typeof points)[number];
  if (n <= first.brokers) return (first.msgPerSecond / first.brokers) * n;
  if (n >= last.brokers) return (last.msgPerSecond / last.brokers) * n;
  for (let i = 1; i < points.length; i++) {
    const hi = points[i] as (typeof points)[number];
    const lo = points[i - 1] as (typeof points)[number];
    if (n <= hi.brokers)
      return (
        lo.msgPerSecond + ((hi.msgPerSecond - lo.msgPerSecond) * (n - lo.brokers)) / (hi.brokers - lo.brokers)
      );
  }
  return (last.msgPerSecond / last.brokers) * n;
}

/** Demand: the smallest n whose capacity carries `msgPerSecond` (0 for no load); at most `cap`. */
export function demandFor(curve: CapacityCurve, msgPerSecond: number, cap = 1_000_000): number {
  if (!(msgPerSecond > 0)) return 0;
  let lo = 1;
  let hi = 1;
  while (carried(curve, hi) < msgPerSecond && hi < cap) hi = Math.min(cap, hi * 2);
  if (carried(curve, hi) < msgPerSecond) return cap;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (carried(curve, mid) >= msgPerSecond) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
