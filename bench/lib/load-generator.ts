// Drives publishers and subscribers through measured phases: at the maximum rate an end-to-end window
// allows, or paced at a fixed rate. Every phase is bounded in time and in messages.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type BenchProtocol,
  type DeliverySink,
  nowMs,
  Publisher,
  Subscriber,
  type Target,
} from './bench-client.ts';
import { percentiles } from './stats.ts';

export interface LoadOptions {
  publishers: number;
  subscribers: number;
  payloadBytes: number;
  qos: 0 | 1;
  /** Messages a publisher may have sent and not yet seen delivered (end-to-end flow control). */
  windowPerPublisher: number;
  /** Latency samples kept per phase (the rest are counted, not kept). */
  maxSamples: number;
  clientIdPrefix: string;
  connectTimeoutMs: number;
  /** Protocol level of every client (default 3.1.1); at 5 each publish carries V5_PUBLISH_PROPERTIES. */
  protocol?: BenchProtocol;
  /** The topics' first level (default `taxi`): distinct for generators that share brokers. */
  topicRoot?: string;
}

/**
 * Issue #12's fixed-rate workload (bench:node-floor, bench:profile-fixed, bench:ab): 20 publishers and
 * 20 subscribers, 100-byte payloads, 100 messages in flight per publisher at full rate; `more`
 * overrides any of it.
 */
export function issue12Load(
  qos: 0 | 1,
  clientIdPrefix: string,
  more: Partial<LoadOptions> = {},
): LoadOptions {
  return {
    publishers: 20,
    subscribers: 20,
    payloadBytes: 100,
    qos,
    windowPerPublisher: 100,
    maxSamples: 1_000_000,
    clientIdPrefix,
    connectTimeoutMs: 10_000,
    ...more,
  };
}

export interface PhaseOptions {
  /** Messages per second over all publishers; undefined: as fast as the window allows. */
  rate: number | undefined;
  warmupMs: number;
  measureMs: number;
  /** Messages sent in the whole phase, warm-up included, at most. */
  maxMessages: number;
  /** Time to wait, after sending stops, for what is in flight to arrive. */
  drainTimeoutMs: number;
  /** Cumulative CPU seconds of the processes of interest, read at the edges of the measured window. */
  cpu: () => Record<string, number>;
  /** A paced phase's ticks from a pacing shared with other loads paced at once (SharedPacing). */
  pacing?: SharedPacing;
}

/**
 * One 1 ms tick for several loads paced at the same time (bench/ab-pair.ts), which take turns going
 * first. With an interval each, the load whose timer fires first reaches its target first in every
 * tick, and in an A/A run that put its orchestrator 17–30 % above the other's CPU per message (why is
 * not settled: docs/data-plane.md, "Session 35").
 */
export class SharedPacing {
  private readonly members: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private turn = 0;

  /** Paces `pace` on the shared tick until the returned function is called. */
  add(pace: () => void): () => void {
    this.members.push(pace);
    this.timer ??= setInterval(() => this.tick(), 1);
    return () => {
      const at = this.members.indexOf(pace);
      if (at >= 0) this.members.splice(at, 1);
      if (this.members.length === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private tick(): void {
    const n = this.members.length;
    for (let i = 0; i < n; i++) this.members[(this.turn + i) % n]?.();
    this.turn = n > 0 ? (this.turn + 1) % n : 0;
  }
}

export interface PhaseResult {
  /** Length of the measured window. */
  seconds: number;
  /** Messages delivered to subscribers in the measured window. */
  delivered: number;
  /** delivered / seconds. */
  rate: number;
  /** Over the whole phase: sent, and sent but never delivered (after the drain). */
  sent: number;
  lost: number;
  /** Send-to-delivery latency in the measured window, ms. */
  p50Ms: number;
  p99Ms: number;
  /** The tail in more detail: p90, p99.9 and the largest sample, ms. */
  p90Ms: number;
  p999Ms: number;
  maxMs: number;
  samples: number;
  /** CPU seconds each process used in the measured window. */
  cpuSeconds: Record<string, number>;
  /** The phase stopped at maxMessages before its time was up. */
  capped: boolean;
}

/** Below this much room a publisher waits, so max-rate writes carry several messages. */
const MIN_BATCH_FRACTION = 1 / 8;
/** Unacknowledged QoS 1 publishes per publisher (packet ids must not be reused while in flight). */
const MAX_UNACKED = 1000;
/** A paced phase this far behind its schedule gives up the backlog rather than bursting it. */
const MAX_PACING_BACKLOG_MS = 100;

export class LoadGenerator implements DeliverySink {
  private readonly publishers: Publisher[] = [];
  private readonly subscribers: Subscriber[] = [];
  private deliveredTotal = 0;
  private recording = false;
  private readonly samples: Float64Array;
  private sampleCount = 0;
  private mode: 'idle' | 'max' | 'paced' = 'idle';
  private pumpScheduled = false;
  /** Total sent at which the current phase stops sending. */
  private cap = 0;
  /** Sent by all publishers, since connecting. */
  private sentCount = 0;
  private rr = 0;

  private constructor(
    private readonly target: Target,
    private readonly options: LoadOptions,
  ) {
    this.samples = new Float64Array(options.maxSamples);
  }

  /** Connects and subscribes every subscriber, then connects every publisher. */
  static async connect(target: Target, options: LoadOptions): Promise<LoadGenerator> {
    const load = new LoadGenerator(target, options);
    try {
      await load.open();
    } catch (err) {
      await load.close();
      throw err;
    }
    return load;
  }

  private async open(): Promise<void> {
    const { subscribers, publishers, qos, payloadBytes, connectTimeoutMs, clientIdPrefix } = this.options;
    const protocol = this.options.protocol ?? 4;
    for (let i = 0; i < subscribers; i++)
      this.subscribers.push(
        new Subscriber(this.target, `${clientIdPrefix}-s${i}`, i, this, protocol, this.options.topicRoot),
      );
    await Promise.all(
      this.subscribers.map(async (s) => {
        await s.connect(connectTimeoutMs);
        await s.subscribe(qos, connectTimeoutMs);
      }),
    );
    for (let j = 0; j < publishers; j++) {
      this.publishers.push(
        new Publisher(
          this.target,
          `${clientIdPrefix}-p${j}`,
          j,
          subscribers,
          payloadBytes,
          qos,
          () => this.schedulePump(),
          protocol,
          this.options.topicRoot,
        ),
      );
    }
    await Promise.all(this.publishers.map((p) => p.connect(connectTimeoutMs)));
  }

  delivered(publisher: number, latencyMs: number): void {
    const p = this.publishers[publisher];
    if (p) p.delivered += 1;
    this.deliveredTotal += 1;
    if (this.recording && this.sampleCount < this.samples.length)
      this.samples[this.sampleCount++] = latencyMs;
    if (this.mode === 'max') this.schedulePump();
  }

  private send(p: Publisher, n: number, at: number): void {
    if (n <= 0) return;
    p.send(n, at);
    this.sentCount += n;
  }

  private room(p: Publisher): number {
    if (p.blocked) return 0;
    const room = Math.min(this.options.windowPerPublisher - p.inflight, MAX_UNACKED - p.unacked);
    return Math.max(0, Math.min(room, this.cap - this.sentCount));
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.mode !== 'max') return;
    this.pumpScheduled = true;
    setImmediate(() => this.pump());
  }

  /** Max rate: refill every publisher's window, in batches. */
  private pump(): void {
    this.pumpScheduled = false;
    if (this.mode !== 'max') return;
    const minBatch = Math.max(1, Math.floor(this.options.windowPerPublisher * MIN_BATCH_FRACTION));
    const at = nowMs();
    for (const p of this.publishers) {
      const n = this.room(p);
      if (n >= minBatch || (n > 0 && p.inflight === 0)) this.send(p, n, at);
    }
  }

  /** Paced: send what the schedule says is due by now, spread over the publishers. */
  private pace(rate: number, startedAt: number, sentAtStart: { n: number }): void {
    const now = performance.now();
    const target = Math.floor((rate * (now - startedAt)) / 1000);
    let due = target - sentAtStart.n;
    const maxBacklog = Math.ceil((rate * MAX_PACING_BACKLOG_MS) / 1000);
    if (due > maxBacklog) {
      sentAtStart.n += due - maxBacklog; // fell behind: the achieved rate shows it
      due = maxBacklog;
    }
    if (due <= 0) return;
    const count = this.publishers.length;
    const each = Math.floor(due / count);
    const extra = due % count;
    const at = nowMs();
    for (let i = 0; i < count; i++) {
      const p = this.publishers[(this.rr + i) % count];
      if (!p) continue;
      const n = Math.min(each + (i < extra ? 1 : 0), this.room(p));
      this.send(p, n, at);
      sentAtStart.n += n;
    }
    this.rr = (this.rr + extra) % count;
  }

  private checkHealthy(): void {
    const failed = [...this.subscribers, ...this.publishers].find((c) => c.failure !== undefined);
    if (failed) throw new Error(`load generator client ${failed.clientId} failed: ${failed.failure}`);
  }

  /** Waits up to ms, returning early once the phase hit its message cap; throws if a client failed. */
  private async waitPhase(ms: number): Promise<void> {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      this.checkHealthy();
      if (this.sentCount >= this.cap) return;
      await sleep(Math.min(50, Math.max(1, until - performance.now())));
    }
  }

  async runPhase(o: PhaseOptions): Promise<PhaseResult> {
    this.checkHealthy();
    const sent0 = this.sentCount;
    const delivered0 = this.deliveredTotal;
    this.cap = sent0 + o.maxMessages;
    this.sampleCount = 0;
    let stopPacing: (() => void) | undefined;
    if (o.rate === undefined) {
      this.mode = 'max';
      this.schedulePump();
    } else {
      this.mode = 'paced';
      const rate = o.rate;
      const startedAt = performance.now();
      const scheduled = { n: 0 };
      const pace = () => this.pace(rate, startedAt, scheduled);
      if (o.pacing) stopPacing = o.pacing.add(pace);
      else {
        const pacer = setInterval(pace, 1);
        stopPacing = () => clearInterval(pacer);
      }
    }
    let window: { seconds: number; delivered: number; cpu: Record<string, number> };
    try {
      await this.waitPhase(o.warmupMs);
      const t0 = performance.now();
      const d0 = this.deliveredTotal;
      const cpu0 = o.cpu();
      this.recording = true;
      await this.waitPhase(o.measureMs);
      const t1 = performance.now();
      const d1 = this.deliveredTotal;
      const cpu1 = o.cpu();
      this.recording = false;
      const cpu: Record<string, number> = {};
      for (const [k, v] of Object.entries(cpu1)) cpu[k] = v - (cpu0[k] ?? Number.NaN);
      window = { seconds: (t1 - t0) / 1000, delivered: d1 - d0, cpu };
    } finally {
      this.mode = 'idle';
      this.recording = false;
      stopPacing?.();
    }
    await this.drain(o.drainTimeoutMs);
    const [
      p50Ms = Number.NaN,
      p99Ms = Number.NaN,
      p90Ms = Number.NaN,
      p999Ms = Number.NaN,
      maxMs = Number.NaN,
    ] = percentiles(this.samples, this.sampleCount, [50, 99, 90, 99.9, 100]);
    const sent = this.sentCount - sent0;
    return {
      seconds: window.seconds,
      delivered: window.delivered,
      rate: window.delivered / window.seconds,
      sent,
      lost: sent - (this.deliveredTotal - delivered0),
      p50Ms,
      p99Ms,
      p90Ms,
      p999Ms,
      maxMs,
      samples: this.sampleCount,
      cpuSeconds: window.cpu,
      capped: this.sentCount >= this.cap,
    };
  }

  /** Waits until everything sent was delivered (and acknowledged), at most timeoutMs. */
  private async drain(timeoutMs: number): Promise<void> {
    const until = performance.now() + timeoutMs;
    while (performance.now() < until) {
      this.checkHealthy();
      if (this.publishers.every((p) => p.inflight <= 0 && p.unacked <= 0)) return;
      await sleep(10);
    }
  }

  async close(timeoutMs = 3000): Promise<void> {
    this.mode = 'idle';
    await Promise.all([...this.publishers, ...this.subscribers].map((c) => c.close(timeoutMs)));
  }
}
