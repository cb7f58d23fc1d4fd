import type { TaxiRecord } from './record.ts';

/**
 * When each message of a publisher's share is due, pure: as fast as possible (undefined), at a fixed
 * total rate split evenly among the publishers, or on the trace's own clock sped up `speedup` times
 * (all publishers share one timeline that starts at the replay's first fix).
 */
export type Pacing =
  | { kind: 'max' }
  | { kind: 'rate'; perSecond: number }
  | { kind: 'speedup'; factor: number };

/** Milliseconds after the replay's start at which message `index` of a share is due (0 = now). */
export function dueAtMs(
  pacing: Pacing,
  record: TaxiRecord,
  index: number,
  publishers: number,
  firstEpochMicros: number,
): number {
  switch (pacing.kind) {
    case 'max':
      return 0;
    case 'rate':
      return (index * 1000 * publishers) / pacing.perSecond;
    case 'speedup':
      return (record.epochMicros - firstEpochMicros) / 1000 / pacing.factor;
  }
}

/** Per topic, the index of each record within its taxi's stream (the `seq` the subscriber checks). */
export function sequenceNumbers(share: readonly TaxiRecord[]): number[] {
  const next = new Map<number, number>();
  return share.map((r) => {
    const seq = next.get(r.taxi) ?? 0;
    next.set(r.taxi, seq + 1);
    return seq;
  });
}
