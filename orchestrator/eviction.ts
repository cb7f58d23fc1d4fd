import type { EvictionStatus, EvictMove, EvictRequest } from '../common/eviction-contract.ts';

/** What the evictor needs of a session (a real Session, or a fake in unit tests). */
export interface Evictable {
  readonly state: 'connecting' | 'connected' | 'closed';
  buffers(): { inflightFromClient: number; deliveriesInflight: number };
  /** Sends the client away gracefully (the will does not fire): v5 DISCONNECT 0x9C + reference. */
  redirect(serverReference: string | undefined): void;
}

/** Period of the eviction clock; each tick sends away at most perSecond × tickMs / 1000 sessions. */
export const EVICTION_TICK_MS = 100;

/**
 * Pure: up to `want` sessions to send away now, in the order given (the orchestrator's sessions are
 * in connection order: oldest first), those with no QoS 1/2 message in flight either way before the
 * others. Sessions younger than `minAgeMs` are never chosen (rebalance.cooldownSeconds).
 */
export function pickEvictees<S extends Evictable>(
  sessions: Iterable<S>,
  connectedAt: (s: S) => number | undefined,
  want: number,
  now: number,
  minAgeMs: number,
): S[] {
  const idle: S[] = [];
  const busy: S[] = [];
  if (want <= 0) return idle;
  for (const s of sessions) {
    if (s.state !== 'connected') continue;
    const since = connectedAt(s);
    if (since === undefined || now - since < minAgeMs) continue;
    const b = s.buffers();
    if (b.inflightFromClient + b.deliveriesInflight === 0) {
      idle.push(s);
      if (idle.length === want) return idle;
    } else if (busy.length < want) busy.push(s);
  }
  return [...idle, ...busy.slice(0, want - idle.length)];
}

interface Running {
  request: EvictRequest;
  status: EvictionStatus;
  /** Sessions this tick may still send away (fractional carry between ticks). */
  allowance: number;
  /** The move the next evictee goes to (round-robin over moves with some left). */
  next: number;
  timer: NodeJS.Timeout;
}

/**
 * Sends sessions away at a bounded rate (rebalance and evacuation, ARCHITECTURE.md "Moving
 * clients"). One eviction at a time: a new request replaces the one under way. The orchestrator
 * tells it when sessions connect and close, so it knows each session's age.
 */
export class Evictor<S extends Evictable> {
  private readonly connectedAt = new Map<S, number>();
  private running: Running | undefined;
  private last: EvictionStatus | undefined;

  constructor(
    private readonly sessions: () => Iterable<S>,
    private readonly clock: () => number = Date.now,
    private readonly tickMs = EVICTION_TICK_MS,
  ) {}

  connected(session: S): void {
    this.connectedAt.set(session, this.clock());
  }

  closed(session: S): void {
    this.connectedAt.delete(session);
  }

  start(request: EvictRequest): EvictionStatus {
    const moves = request.moves.filter((m) => m.count > 0);
    this.finish(moves.length === 0 ? 'cancelled' : 'replaced');
    if (moves.length === 0) return this.status() ?? this.blank(request, 'cancelled');
    const status: EvictionStatus = {
      ...this.blank({ ...request, moves }, undefined),
      active: true,
    };
    const timer = setInterval(() => this.tick(), this.tickMs);
    timer.unref();
    this.running = { request: { ...request, moves }, status, allowance: 0, next: 0, timer };
    this.tick(); // the first batch goes at once
    return this.status() as EvictionStatus;
  }

  status(): EvictionStatus | undefined {
    const s = this.running?.status ?? this.last;
    return s ? { ...s, moves: s.moves.map((m) => ({ ...m })) } : undefined;
  }

  stop(): void {
    this.finish('cancelled');
  }

  private blank(request: EvictRequest, outcome: EvictionStatus['outcome']): EvictionStatus {
    return {
      active: false,
      requested: request.moves.reduce((n, m) => n + m.count, 0),
      evicted: 0,
      perSecond: request.perSecond,
      minAgeSeconds: request.minAgeSeconds,
      startedAt: new Date(this.clock()).toISOString(),
      ...(outcome ? { outcome, finishedAt: new Date(this.clock()).toISOString() } : {}),
      moves: request.moves.map((m: EvictMove) => ({
        ...(m.serverReference === undefined ? {} : { serverReference: m.serverReference }),
        count: m.count,
        evicted: 0,
      })),
    };
  }

  private tick(): void {
    const r = this.running;
    if (!r) return;
    // Unused allowance does not pile up into a burst: at most one tick's worth (or one session).
    const perTick = (r.request.perSecond * this.tickMs) / 1000;
    r.allowance = Math.min(r.allowance + perTick, Math.max(perTick, 1));
    const whole = Math.floor(r.allowance);
    const left = r.status.requested - r.status.evicted;
    const chosen = pickEvictees(
      this.sessions(),
      (s) => this.connectedAt.get(s),
      Math.min(whole, left),
      this.clock(),
      r.request.minAgeSeconds * 1000,
    );
    for (const session of chosen) {
      const move = this.nextMove(r);
      if (!move) break;
      move.evicted += 1;
      r.status.evicted += 1;
      this.connectedAt.delete(session);
      session.redirect(move.serverReference);
    }
    r.allowance -= chosen.length;
    if (r.status.evicted >= r.status.requested) this.finish('done');
    else if (whole > 0 && chosen.length === 0) this.finish('exhausted');
  }

  private nextMove(r: Running): EvictionStatus['moves'][number] | undefined {
    const moves = r.status.moves;
    for (let k = 0; k < moves.length; k++) {
      const move = moves[(r.next + k) % moves.length];
      if (move && move.evicted < move.count) {
        r.next = (r.next + k + 1) % moves.length;
        return move;
      }
    }
    return undefined;
  }

  private finish(outcome: NonNullable<EvictionStatus['outcome']>): void {
    const r = this.running;
    if (!r) return;
    clearInterval(r.timer);
    this.running = undefined;
    this.last = { ...r.status, active: false, outcome, finishedAt: new Date(this.clock()).toISOString() };
  }
}
