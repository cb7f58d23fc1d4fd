/**
 * PUBACKs to brokers held a few milliseconds so that several leave in one write: TCP's delayed ACK, for
 * the acknowledgements a session relays from its client to the brokers that delivered (outbound-delivery.ts).
 * They are off the delivery's path (the client has the message), and each write on loopback costs the
 * orchestrator a system call with the broker's TCP work in it and the broker a read (docs/data-plane.md,
 * "Session 25"). A held PUBACK leaves at the latest `holdMs` later, at once when `maxHeld` are held
 * (a broker's window of deliveries in flight is 10–20: never take much of it), and before anything else
 * the link writes (order kept [MQTT-4.6.0-2]) or its goodbye. Held only: success PUBACKs; PUBREC,
 * PUBCOMP and error reason codes go as before.
 */

/** PUBACKs one link holds at most (a quarter or less of a broker's usual window of 10–20). */
export const ACK_HOLD_MAX = 4;

/** A link holding PUBACKs (upstream.ts). */
export interface AckHolder {
  /** The hold is over (the timer): writes what it holds; a no-op when it holds nothing. */
  holdExpired(): void;
}

/** A delivery this soon after a hold's end came because of it: the broker was waiting for those PUBACKs. */
export const ANSWERED_WITHIN_MS = 1;
/** Holds answered at once, in a row, that stop a link's holding... */
export const ANSWERED_HOLDS = 4;
/** ...for this long; then it tries again. */
export const HOLD_OFF_MS = 10_000;

/**
 * Whether a link may hold its PUBACKs (pure; the clock is given). A broker that lets fewer
 * unacknowledged deliveries be in flight than the link holds (Mosquitto `max_inflight_messages 1`,
 * a RabbitMQ `prefetch` of 1 or 2) sends nothing more until they leave: every hold would cost its
 * subscriber the whole hold (1 delivery per 20 ms, measured). Such a broker answers the hold's end at
 * once with its next delivery; unrelated traffic does so by chance only (at 100 deliveries per second,
 * 1 ms in 10). ANSWERED_HOLDS such holds in a row stop holding on the link for HOLD_OFF_MS.
 */
export class HoldGuard {
  /** When the last hold ended by its timer, while the link's next delivery is awaited; else -1. */
  private endedAt = -1;
  private answeredInARow = 0;
  private offUntil = 0;

  /** The hold ended by its timer (not by the bound or another write: those say nothing of the broker). */
  holdEnded(now: number): void {
    this.endedAt = now;
  }

  /** A delivery from the broker; true when it stops holding (for HOLD_OFF_MS from now). */
  delivered(now: number): boolean {
    if (this.endedAt < 0) return false;
    const answered = now - this.endedAt < ANSWERED_WITHIN_MS;
    this.endedAt = -1;
    if (!answered) {
      this.answeredInARow = 0;
      return false;
    }
    this.answeredInARow += 1;
    if (this.answeredInARow < ANSWERED_HOLDS) return false;
    this.answeredInARow = 0;
    this.offUntil = now + HOLD_OFF_MS;
    return true;
  }

  /** Whether a PUBACK may be held now. */
  mayHold(now: number): boolean {
    return now >= this.offUntil;
  }
}

export class HeldAcks {
  /** Links that held a PUBACK since the timer was armed; one may be here twice (released early, then held again). */
  private holders: AckHolder[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** PUBACKs held so far, and holds a link's HoldGuard stopped: metrics read them on a scrape. */
  heldTotal = 0;
  stopsTotal = 0;

  constructor(
    /** Longest hold, ms; 0 turns holding off (every PUBACK leaves with its read's writes, as before). */
    readonly holdMs: number,
    /** PUBACKs one link holds at most: the one that makes it this many is written with the others at once. */
    readonly maxHeld: number,
  ) {}

  /** Whether PUBACKs are held at all. */
  get enabled(): boolean {
    return this.holdMs > 0 && this.maxHeld > 1;
  }

  /** A link held its first PUBACK: released at the latest holdMs from the first of this round. */
  add(holder: AckHolder): void {
    this.holders.push(holder);
    if (this.timer) return;
    this.timer = setTimeout(() => this.releaseAll(), this.holdMs);
    this.timer.unref();
  }

  /** Releases every holder's PUBACKs (the timer; tests). */
  releaseAll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const holders = this.holders;
    this.holders = [];
    for (const holder of holders) holder.holdExpired();
  }
}
