/**
 * Replicas per level over time, pure: samples taken during a run, integrated as a step function
 * (a sample's counts hold until the next sample) into replica-seconds and the mean replica count.
 */
export interface ReplicaSample {
  /** Seconds since the run's application start (negative before it). */
  t: number;
  /** Replicas allocated (booting, ready or draining: what a cloud bills). */
  broker: number;
  orchestrator: number;
  /** Of those, serving (ready and, for brokers, active in the pool). */
  brokerReady: number;
  orchestratorReady: number;
}

export type SampleKey = 'broker' | 'orchestrator';

/** ∫ count dt over [from, to] for the step function the samples describe. */
export function replicaSeconds(
  samples: readonly ReplicaSample[],
  key: SampleKey,
  from: number,
  to: number,
): number {
  if (to <= from || samples.length === 0) return 0;
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i] as ReplicaSample;
    const next = samples[i + 1];
    // The first sample's value also covers the time before it (the system was up before sampling began).
    const start = Math.max(from, i === 0 ? Number.NEGATIVE_INFINITY : s.t);
    const end = Math.min(to, next ? next.t : Number.POSITIVE_INFINITY);
    if (end > start) total += s[key] * (end - start);
  }
  return total;
}

export interface LevelUsage {
  replicaSeconds: number;
  meanReplicas: number;
  maxReplicas: number;
}

export function levelUsage(
  samples: readonly ReplicaSample[],
  key: SampleKey,
  from: number,
  to: number,
): LevelUsage {
  const seconds = replicaSeconds(samples, key, from, to);
  const inside = samples.filter((s) => s.t >= from && s.t <= to).map((s) => s[key]);
  const before = samples.filter((s) => s.t < from).at(-1);
  if (before) inside.push(before[key]);
  return {
    replicaSeconds: seconds,
    meanReplicas: to > from ? seconds / (to - from) : 0,
    maxReplicas: inside.length > 0 ? Math.max(...inside) : 0,
  };
}

/** Drops samples that repeat the previous one's counts (keeps the first and last): a smaller report. */
export function compactSamples(samples: readonly ReplicaSample[]): ReplicaSample[] {
  const same = (a: ReplicaSample, b: ReplicaSample) =>
    a.broker === b.broker &&
    a.orchestrator === b.orchestrator &&
    a.brokerReady === b.brokerReady &&
    a.orchestratorReady === b.orchestratorReady;
  return samples.filter(
    (s, i) => i === 0 || i === samples.length - 1 || !same(s, samples[i - 1] as ReplicaSample),
  );
}
