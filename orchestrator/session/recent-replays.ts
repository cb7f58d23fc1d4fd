import type { IPublishPacket } from 'mqtt-packet';
import type { KeptFrames } from '../protocol/kept-frames.ts';
import type { SessionContext } from './context.ts';
import type { InFlight, InFlightTable } from './inflight-publish.ts';
import { afterWaiting } from './message-expiry.ts';
import type { PublishRouting } from './publish-routing.ts';
import { ReplayWindow } from './replay-window.ts';
import { RetainedOrder } from './retained-order.ts';

export interface ReplayOptions {
  windowMs: number;
  maxMessages: number;
  /** Where frames are kept: only for a session whose keepalive tick calls rehome() (kept-frames.ts). */
  frames?: KeptFrames | undefined;
}

/**
 * The replay of recent QoS 1 publishes after their broker died (part of InboundPublishes): what each
 * broker acknowledged within limits.replayWindowMs is sent again through another broker, but for a
 * retained one the client has published a newer value for since (retained-order.ts).
 */
export class RecentReplays {
  /** QoS 1 publishes acknowledged by each broker recently (see limits.replayWindowMs). */
  private readonly recent: ReplayWindow;
  /**
   * Per topic, the session's latest retained publish: no replay puts back an older one (with `recent`).
   * Made on the first retained publish: most sessions never send one (no object or closure per session).
   */
  private retainedOrder: RetainedOrder | undefined;

  constructor(
    private readonly ctx: SessionContext,
    private readonly routing: PublishRouting,
    private readonly inflight: InFlightTable,
    replay: ReplayOptions,
  ) {
    this.recent = new ReplayWindow(replay.windowMs, replay.maxMessages, replay.frames);
  }

  /** A retained publish arrived from the client: its place among the session's (0 without replays). */
  arrive(topic: string): number {
    if (!this.recent.enabled) return 0;
    this.retainedOrder ??= new RetainedOrder(() => this.retainedInUse());
    return this.retainedOrder.arrive(topic);
  }

  /** A broker acknowledged a QoS 1 publish: kept for a replay while the window lasts. */
  acknowledged(brokerId: string, entry: InFlight): void {
    if (this.recent.enabled) this.recent.remember(brokerId, entry.packet, Date.now(), entry.retainSeq);
  }

  /**
   * A broker died (not a planned removal): QoS 1 publishes it acknowledged within the replay window
   * may not have reached their subscribers yet; they are sent again through another broker. A retained
   * one is not when the client published on its topic since (retained-order.ts): the newer value wins.
   */
  replay(brokerId: string): number {
    let sent = 0;
    const order = this.retainedOrder;
    const superseded = (p: IPublishPacket, seq: number): boolean => order?.superseded(p.topic, seq) ?? false;
    // MQTT 5: a copy goes out with its interval less the seconds since its broker acknowledged it (a
    // broker that hung is noticed a keepalive later), or not at all (message-expiry.ts).
    const now = Date.now();
    const age = (p: IPublishPacket, ackedAt: number): IPublishPacket | undefined => {
      const aged = afterWaiting(p, now - ackedAt);
      if (aged === undefined) this.ctx.counters.publishExpired();
      return aged;
    };
    for (const packet of this.recent.take(brokerId, superseded, age)) {
      const link = this.routing.pick(packet, [brokerId]);
      const upId = link?.ids.allocate({ kind: 'republish' });
      if (!link || upId === undefined) continue;
      link.upstream.send({ ...packet, messageId: upId, dup: false });
      this.ctx.counters.published(link.brokerId);
      sent += 1;
    }
    return sent;
  }

  /** Frames kept in a slab long sealed move out of it (ReplayWindow.rehome). */
  rehome(now: number): void {
    this.recent.rehome(now);
  }

  /** A broker left the pool in order: nothing it acknowledged is replayed. */
  forget(brokerId: string): void {
    this.recent.forget(brokerId);
  }

  /** Topics RetainedOrder must keep: retained publishes in the replay windows or in flight. */
  private *retainedInUse(): Iterable<string> {
    yield* this.recent.retainedTopics();
    for (const entry of this.inflight.values()) if (entry.retainSeq > 0) yield entry.packet.topic;
  }
}
