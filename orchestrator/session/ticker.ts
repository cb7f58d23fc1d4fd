/** Something ticked once a period: a session's keepalive check, a broker link's ping. */
export interface TickMember {
  /** `now`: Date.now() at this tick; `count`: the ticker's ticks so far, this one included. */
  tick(now: number, count: number): void;
}

/**
 * One clock for every member instead of a timer each: a Timeout, its closure and the closure's scope
 * cost ~0.2 KB per client session and per broker link (docs/data-plane.md, "Memory per client"),
 * where a member of a Set costs a few words. The interval runs (unref'd) while there are members.
 * Members tick in the order they joined; one that leaves during a tick is not ticked after it, one
 * that joins during a tick is ticked in it. Periods are counted in ticks, so a member's own phase is
 * the ticker's: a 1 s keepalive check runs 1 s apart as before, at the same moment for all.
 */
export class Ticker {
  private readonly members = new Set<TickMember>();
  private timer: NodeJS.Timeout | undefined;
  /** Ticks so far. */
  count = 0;

  constructor(readonly periodMs: number) {}

  add(member: TickMember): void {
    this.members.add(member);
    if (this.timer) return;
    this.timer = setInterval(() => this.run(), this.periodMs);
    this.timer.unref();
  }

  delete(member: TickMember): void {
    if (!this.members.delete(member) || this.members.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get size(): number {
    return this.members.size;
  }

  /** Whether its interval runs (exactly while it has members). */
  get running(): boolean {
    return this.timer !== undefined;
  }

  private run(): void {
    this.count += 1;
    const now = Date.now();
    for (const member of this.members) member.tick(now, this.count);
  }
}

/** The process's 1-second clock: client keepalive checks (session-lifetime.ts) and broker pings (upstream.ts). */
export const everySecond = new Ticker(1000);
