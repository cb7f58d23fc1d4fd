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
  /** Writes what it holds; a no-op when it holds nothing. */
  releaseHeld(): void;
}

export class HeldAcks {
  /** Links that held a PUBACK since the timer was armed; one may be here twice (released early, then held again). */
  private holders: AckHolder[] = [];
  private timer: NodeJS.Timeout | undefined;

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

  /** Releases every holder's PUBACKs (the timer; also tests and shutdown). */
  releaseAll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const holders = this.holders;
    this.holders = [];
    for (const holder of holders) holder.releaseHeld();
  }
}
