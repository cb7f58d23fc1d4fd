import { TokenBucket } from './connect-rate.ts';

export interface ConnectGateLimits {
  /** CONNECTs admitted per second, on average (0: no limit). */
  connectsPerSecond: number;
  /** CONNECTs admitted at once after a quiet period. */
  connectBurst: number;
  /** CONNECTs waiting for their turn; one more is refused (v5 CONNACK 0x9F, 3.1.1 CONNACK 3). */
  maxQueuedConnects: number;
}

export type Admission = 'admitted' | 'refused';

/**
 * Admits client CONNECTs at a bounded rate. Over the rate a CONNECT waits in a bounded FIFO queue (a
 * storm of reconnecting clients is served in order, none has to come back); when the queue is full
 * it is refused at once. Waiting costs a socket and a parsed CONNECT, no broker connection.
 */
export class ConnectGate {
  private readonly bucket: TokenBucket | undefined;
  private readonly queue: Array<{ resolve: (a: Admission) => void; gone: () => boolean }> = [];
  private timer: NodeJS.Timeout | undefined;
  admittedTotal = 0;
  refusedTotal = 0;

  constructor(
    private readonly limits: ConnectGateLimits,
    private readonly clock: () => number = () => performance.now(),
  ) {
    if (limits.connectsPerSecond > 0)
      this.bucket = new TokenBucket(limits.connectsPerSecond, Math.max(1, limits.connectBurst), clock());
  }

  get queued(): number {
    return this.queue.length;
  }

  /**
   * 'admitted' now, or a promise of the answer once the CONNECT's turn comes. `gone`: the client left
   * while waiting; its turn is skipped without spending a token.
   */
  admit(gone: () => boolean = () => false): Admission | Promise<Admission> {
    if (!this.bucket || (this.queue.length === 0 && this.bucket.take(this.clock()))) {
      this.admittedTotal += 1;
      return 'admitted';
    }
    if (this.queue.length >= this.limits.maxQueuedConnects) {
      this.refusedTotal += 1;
      return 'refused';
    }
    const turn = new Promise<Admission>((resolve) => this.queue.push({ resolve, gone }));
    this.schedule();
    return turn;
  }

  private schedule(): void {
    if (this.timer || !this.bucket || this.queue.length === 0) return;
    const wait = this.bucket.msUntilNext(this.clock());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = this.clock();
      for (;;) {
        while (this.queue[0]?.gone()) this.queue.shift()?.resolve('refused');
        if (this.queue.length === 0 || !this.bucket?.take(now)) break;
        this.admittedTotal += 1;
        this.queue.shift()?.resolve('admitted');
      }
      this.schedule();
    }, wait);
    this.timer.unref();
  }

  /** Stops: every waiting CONNECT is refused. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const { resolve } of this.queue.splice(0)) resolve('refused');
  }
}
