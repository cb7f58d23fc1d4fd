import { type LatencySummary, summariseLatency } from '../taxi-rome/measure.ts';

/**
 * The loss ladder (issue 17, seed 000/001's experiment), pure parts: the steps, the message format and
 * one step's accounting. Each step runs P publishers at one period (0: flat out) for a bounded time;
 * publisher i of step s publishes seq 0, 1, 2, … on `ladder/<run>/<s>/<i>`.
 */
export interface LadderStep {
  index: number;
  publishers: number;
  /** Milliseconds between two publishes of one publisher; 0 = as fast as acknowledgements allow. */
  periodMs: number;
}

/** Every period with every publisher count, slowest first, fewest publishers first. */
export function ladderSteps(periodsMs: readonly number[], publishers: readonly number[]): LadderStep[] {
  const steps: LadderStep[] = [];
  const periods = [...periodsMs].sort((a, b) => (a === 0 ? 1 : b === 0 ? -1 : b - a));
  for (const periodMs of periods)
    for (const p of [...publishers].sort((a, b) => a - b))
      steps.push({ index: steps.length, publishers: p, periodMs });
  return steps;
}

/** 16 bytes: seq (uint32, then 4 spare bytes) and the send time (float64 epoch ms). */
export function encodeLadder(seq: number, sentAt: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(seq, 0);
  b.writeDoubleBE(sentAt, 8);
  return b;
}

export function decodeLadder(payload: Buffer): { seq: number; sentAt: number } | undefined {
  if (payload.length !== 16) return undefined;
  return { seq: payload.readUInt32BE(0), sentAt: payload.readDoubleBE(8) };
}

export interface StepResult {
  step: LadderStep;
  sent: number;
  acked: number;
  /** Distinct messages received. */
  received: number;
  /** Acknowledged, never received. */
  lost: number;
  duplicates: number;
  reordered: number;
  latencyMs: LatencySummary;
  /** Acknowledged per second over the step. */
  ackedPerSecond: number;
  /** Most replicas seen during the step ('-' when the manager was not asked). */
  brokers: number | undefined;
  orchestrators: number | undefined;
}

/** One step's accounting: what each publisher topic had acknowledged against what arrived. */
export class StepTally {
  private readonly acked = new Map<string, Set<number>>();
  private readonly seen = new Map<string, Set<number>>();
  private readonly highest = new Map<string, number>();
  private readonly latencies: number[] = [];
  sent = 0;
  duplicates = 0;
  reordered = 0;
  unexpected = 0;

  onSent(): void {
    this.sent += 1;
  }

  onAcked(topic: string, seq: number): void {
    const set = this.acked.get(topic) ?? new Set<number>();
    this.acked.set(topic, set);
    set.add(seq);
  }

  onMessage(topic: string, seq: number, sentAt: number, at: number): void {
    const set = this.seen.get(topic) ?? new Set<number>();
    this.seen.set(topic, set);
    if (set.has(seq)) {
      this.duplicates += 1;
      return;
    }
    set.add(seq);
    const highest = this.highest.get(topic) ?? -1;
    if (seq < highest) this.reordered += 1;
    else this.highest.set(topic, seq);
    this.latencies.push(at - sentAt);
  }

  get ackedCount(): number {
    let n = 0;
    for (const s of this.acked.values()) n += s.size;
    return n;
  }

  /** Acknowledged messages not received (yet). */
  missing(): number {
    let n = 0;
    for (const [topic, seqs] of this.acked) {
      const seen = this.seen.get(topic);
      for (const seq of seqs) if (!seen?.has(seq)) n += 1;
    }
    return n;
  }

  result(
    step: LadderStep,
    seconds: number,
    replicas: { brokers: number | undefined; orchestrators: number | undefined },
  ): StepResult {
    let received = 0;
    for (const s of this.seen.values()) received += s.size;
    const acked = this.ackedCount;
    return {
      step,
      sent: this.sent,
      acked,
      received,
      lost: this.missing(),
      duplicates: this.duplicates,
      reordered: this.reordered,
      latencyMs: summariseLatency(this.latencies),
      ackedPerSecond: seconds > 0 ? acked / seconds : 0,
      ...replicas,
    };
  }
}

const ms = (v: number | null) => (v === null ? '-' : v.toFixed(1));

/** The ladder as a text table. */
export function formatLadder(results: readonly StepResult[]): string {
  const head =
    'step  pubs  period   sent     acked    received  lost  dup    reord  p50 ms  p99 ms  max ms   acked/s  brokers  orch';
  const rows = results.map((r) =>
    [
      String(r.step.index).padStart(4),
      String(r.step.publishers).padStart(5),
      (r.step.periodMs === 0 ? 'flat out' : `${r.step.periodMs} ms`).padStart(8),
      String(r.sent).padStart(7),
      String(r.acked).padStart(9),
      String(r.received).padStart(11),
      String(r.lost).padStart(5),
      String(r.duplicates).padStart(4),
      String(r.reordered).padStart(8),
      ms(r.latencyMs.p50).padStart(7),
      ms(r.latencyMs.p99).padStart(7),
      ms(r.latencyMs.max).padStart(7),
      r.ackedPerSecond.toFixed(0).padStart(9),
      String(r.brokers ?? '-').padStart(8),
      String(r.orchestrators ?? '-').padStart(5),
    ].join(' '),
  );
  return `${[head, ...rows].join('\n')}\n`;
}
