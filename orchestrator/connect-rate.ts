/**
 * Token bucket for client CONNECTs (`limits.connectsPerSecond`, issue 17's connection storm). Pure: the
 * caller passes the time (ms, monotonic). `burst` tokens at most; one token per 1000 / rate ms.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError(`ratePerSecond: ${ratePerSecond} is not above 0`);
    if (!(burst >= 1)) throw new RangeError(`burst: ${burst} is below 1`);
    this.tokens = burst;
    this.last = now;
  }

  private refill(now: number): void {
    if (now <= this.last) return;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000);
    this.last = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is available (0: now). */
  msUntilNext(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecond);
  }
}
