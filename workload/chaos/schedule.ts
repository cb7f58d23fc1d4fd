import { mulberry32 } from '../taxi-rome/random.ts';

/**
 * The chaos run's fault schedule, pure: a seed and a duration give the same timeline on every machine
 * (issue 17). Every fault kind appears once per round, in a seeded order, one at a time with a seeded
 * quiet gap after each, so the system recovers (or not) from one fault before the next; rounds repeat
 * until the duration is used. Targets are indexes the runner maps onto the replicas alive at that moment.
 */
export type FaultKind =
  | 'kill-broker'
  | 'kill-orchestrator'
  | 'kill-manager'
  | 'stop-broker'
  | 'net-delay'
  | 'net-throttle'
  | 'net-reset'
  | 'net-blackhole';

export const FAULT_KINDS: readonly FaultKind[] = [
  'kill-broker',
  'kill-orchestrator',
  'kill-manager',
  'stop-broker',
  'net-delay',
  'net-throttle',
  'net-reset',
  'net-blackhole',
];

export interface FaultEvent {
  /** Milliseconds after the traffic started. */
  atMs: number;
  kind: FaultKind;
  /** How long the fault lasts (0 for a kill or a reset; a killed manager is restarted after it). */
  durationMs: number;
  /** Which replica of the level (index modulo the replicas alive then, sorted by id). */
  target: number;
}

export interface ScheduleOptions {
  seed: number;
  /** Faults start at or after this and end (with their duration) before durationMs. */
  startMs: number;
  durationMs: number;
  /** A SIGSTOP lasts this long: longer than the orchestrators' upstream keepalive × 1.5. */
  stopMs: number;
  /** Quiet time after each fault, drawn in [min, max]. */
  gapMs: { min: number; max: number };
  /** The partition without a reset (10 s in the issue). */
  blackholeMs?: number;
  /** Delay and throttle last this long. */
  degradeMs?: number;
  /** The manager stays dead this long before it is restarted. */
  managerDownMs?: number;
  /** Only these kinds (every kind when absent). */
  kinds?: readonly FaultKind[];
}

/** 50 ms added delay (issue 17). */
export const NET_DELAY_MS = 50;
/** The throttled link: 20 kB/s per direction per connection. */
export const NET_THROTTLE_BYTES_PER_SECOND = 20_000;

function lengthOf(kind: FaultKind, o: ScheduleOptions): number {
  switch (kind) {
    case 'kill-broker':
    case 'kill-orchestrator':
    case 'net-reset':
      return 0;
    case 'kill-manager':
      return o.managerDownMs ?? 5_000;
    case 'stop-broker':
      return o.stopMs;
    case 'net-blackhole':
      return o.blackholeMs ?? 10_000;
    case 'net-delay':
    case 'net-throttle':
      return o.degradeMs ?? 8_000;
  }
}

/** The seeded timeline; a fault that would not end before durationMs is left out. */
export function planFaults(o: ScheduleOptions): FaultEvent[] {
  const random = mulberry32(o.seed);
  const events: FaultEvent[] = [];
  let at = o.startMs;
  for (;;) {
    const round = [...(o.kinds ?? FAULT_KINDS)];
    if (round.length === 0) return events;
    for (let i = round.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [round[i], round[j]] = [round[j] as FaultKind, round[i] as FaultKind];
    }
    let placed = 0;
    for (const kind of round) {
      const durationMs = lengthOf(kind, o);
      const target = Math.floor(random() * 1000);
      const gap = o.gapMs.min + Math.floor(random() * (o.gapMs.max - o.gapMs.min + 1));
      if (at + durationMs > o.durationMs) continue; // does not fit: a shorter one may
      events.push({ atMs: at, kind, durationMs, target });
      placed += 1;
      at += durationMs + gap;
    }
    if (placed === 0) return events;
  }
}

/** One line per event, for the report's timeline. */
export function describeFault(e: FaultEvent): string {
  const lasting = e.durationMs > 0 ? ` for ${(e.durationMs / 1000).toFixed(1)} s` : '';
  return `${(e.atMs / 1000).toFixed(1)} s ${e.kind}${lasting}`;
}
