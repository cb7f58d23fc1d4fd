import { performance } from 'node:perf_hooks';
import type { IPublishPacket } from 'mqtt-packet';
import { spreadsOverBrokers } from '../../common/admin/contract.ts';
import type { RetainedFence } from '../pool/retained-fence.ts';
import { type Router, retainedOwner } from '../routing/strategies.ts';
import { BrokerWindows } from './broker-windows.ts';
import type { SessionContext, UpstreamLink } from './context.ts';
import { type InFlight, type InFlightTable, MAX_ATTEMPTS } from './inflight-publish.ts';
import { emptySet, writableSet } from './lazy-collections.ts';
import { afterWaiting, setAside } from './message-expiry.ts';
import { type RetainedFenceSource, RetainedHold, unsettledRetained } from './retained-hold.ts';

const NONE: readonly string[] = [];

/** The client's pause while every broker its QoS 0 publishes may go to has a full write buffer. */
const NO_ROOM = 'broker write buffers full';

/** Kept at no broker, to go out when one can take it (resendHeld): not sent, queued, fenced or stored. */
const waiting = (e: InFlight): boolean =>
  e.brokerId === '' && !e.stored && e.queuedFor === undefined && !e.fenced;

/**
 * Where and when a client's publish goes out (part of InboundPublishes): the broker the routing
 * strategy picks, within that broker's receive maximum (the rest wait for a slot in routing order),
 * and, for a retained publish whose topic's value is being moved, once the move is done.
 * Entries are those of the publish flow's in-flight table (`inflight`); this only routes them.
 */
export class PublishRouting {
  readonly windows = new BrokerWindows<InFlight>();
  /** Payload bytes of the entries waiting for a broker slot. */
  waitingBytes = 0;
  /** Retained publishes waiting for a retained move to finish; none unless the pool has a fence. */
  readonly held: RetainedHold<InFlight> | undefined;
  /** Links whose room (drain, or end) this session waits for, its client paused (NO_ROOM). */
  private roomWaits = emptySet<UpstreamLink>();

  constructor(
    private readonly ctx: SessionContext,
    private readonly router: Router,
    private readonly inflight: InFlightTable,
    /** A QoS 1/2 publish whose Message Expiry Interval ran out before it went to a broker: its flow ends. */
    private readonly expire: (entry: InFlight) => void,
    maxWaitingBytes: number,
    fences?: RetainedFenceSource,
  ) {
    this.held = fences ? new RetainedHold(fences, maxWaitingBytes) : undefined;
  }

  /**
   * The link a publish goes to: the routing strategy's choice among the publish targets not excluded;
   * a retained one's, its topic's owner (ownerLink).
   */
  pick(packet: IPublishPacket, exclude: readonly string[] = NONE): UpstreamLink | undefined {
    // A lazy session routes only where a full one would: else it opens its links first (link-need.ts).
    if (!this.ctx.linksSettled && !this.ctx.linksFor(packet)) return undefined;
    if (exclude.length === 0 && !packet.retain) {
      // The common cases, without building arrays per message (the targets are cached by the session).
      const all = this.ctx.publishTargets();
      if (all.length === 0) return undefined;
      if (spreadsOverBrokers(this.router.strategy)) return this.spread(all, packet.qos);
    }
    if (packet.retain) return this.ownerLink(packet.topic, exclude);
    return this.routed(packet, exclude);
  }

  /**
   * A spreading strategy's pick. QoS 0 has no acknowledgement: a full write buffer is its one sign of a
   * broker that does not keep up, and it goes round it, to the next pick with room, so the others keep
   * even shares (QoS 1/2 are paced by each broker's Receive Maximum window). All full: the last pick.
   * least-outstanding's closure is in a method of its own, so round-robin makes none (not measured
   * apart: what the heap samples first put under `pick` were LazyLinks' closures, inlined into it).
   */
  private spread(all: readonly UpstreamLink[], qos: number): UpstreamLink | undefined {
    let link: UpstreamLink | undefined;
    for (let tries = 0; tries < all.length; tries++) {
      link =
        all[
          this.router.strategy === 'round-robin'
            ? this.router.nextRoundRobin(all.length)
            : this.leastOutstandingIndex(all)
        ];
      if (qos !== 0 || !link?.upstream.writableNeedDrain) {
        if (tries > 0) this.ctx.counters.qos0Detoured();
        break;
      }
    }
    return link;
  }

  private leastOutstandingIndex(all: readonly UpstreamLink[]): number {
    return this.router.leastOutstanding(all.length, (k) => this.outstanding(all[k]?.brokerId ?? ''));
  }

  /** The strategy's pick among the publish targets not excluded (affinity strategies; re-sends). */
  private routed(packet: IPublishPacket, exclude: readonly string[]): UpstreamLink | undefined {
    const targets = this.ctx.publishTargets().filter((l) => !exclude.includes(l.brokerId));
    const brokerId = this.router.route({
      clientId: this.ctx.clientId,
      topic: packet.topic,
      retain: packet.retain,
      candidates: targets.map((l) => l.brokerId),
      outstanding: (id) => this.outstanding(id),
    });
    return targets.find((l) => l.brokerId === brokerId);
  }

  /**
   * A retained publish's link: the topic's owner among the pool's active brokers, the set the retained
   * fence and the manager's move use, so the topic keeps one value: a new subscriber gets the last
   * retained message [MQTT-3.3.1-6], not one per broker. An active owner that is not routable
   * yet (a session still lacks its subscriptions there, e.g. a persistent one coming back after a join
   * moved the topic to it) is still the owner: routing the publish to another broker left two retained
   * values (pool-change-random seed 11). send() holds a QoS 1/2 one until the owner is routable.
   * Brokers this session lost its link to are left out (a failure, routed around as before); a lazy
   * session without a link to the owner opens its links first.
   */
  private ownerLink(topic: string, exclude: readonly string[]): UpstreamLink | undefined {
    const lazy = !this.ctx.linksSettled;
    const active = this.ctx.activeBrokers?.() ?? this.ctx.publishTargets().map((l) => l.brokerId);
    const candidates = active.filter(
      (id) => !exclude.includes(id) && (lazy || this.ctx.link(id)?.upstream.isUp === true),
    );
    const owner = retainedOwner(topic, candidates);
    if (owner === undefined) return undefined;
    const link = this.ctx.link(owner);
    if (link?.upstream.isUp) return link;
    this.ctx.openEveryLink();
    return undefined;
  }

  /** This session's publishes a broker holds unacknowledged or that wait for a slot on it. */
  private outstanding(brokerId: string): number {
    return this.windows.inUse(brokerId) + this.windows.waitingFor(brokerId);
  }

  /** Whether a publish may go out on this link now (a retained one's owner may not be routable yet). */
  private routable(link: UpstreamLink): boolean {
    return this.ctx.publishTargets().includes(link);
  }

  /**
   * A QoS 0 publish goes to a broker now. `arrivedAt`: when it arrived here (performance.now(), ms) if it
   * has an MQTT 5 Message Expiry Interval, else -1; it goes out with the interval less the whole seconds
   * since, or not at all (message-expiry.ts).
   */
  routeQos0(packet: IPublishPacket, arrivedAt: number): void {
    const link = this.pick(packet);
    if (!link) {
      // Held as it came, with its arrival, to be handled again once the links are open.
      if (arrivedAt >= 0) setAside(packet, arrivedAt);
      if (this.ctx.deferWhileLinking(packet)) return;
      this.ctx.log.warn({ topic: packet.topic }, 'QoS 0 publish dropped: no broker available');
      return;
    }
    const aged = arrivedAt < 0 ? packet : afterWaiting(packet, performance.now() - arrivedAt);
    if (aged === undefined) return this.ctx.counters.publishExpired();
    link.upstream.send(aged.messageId === undefined ? aged : { ...aged, messageId: undefined });
    this.ctx.counters.published(link.brokerId);
    if (link.upstream.writableNeedDrain) this.waitForRoom(link, packet.retain);
  }

  /**
   * A QoS 0 publish filled its link's write buffer. Under a spreading strategy the next one goes to a
   * broker with room (pick); only when none of the publish targets has any is the client paused, until
   * one of them drains or ends. A retained publish (its topic's owner) or an affinity strategy has the
   * one broker: the client waits for it.
   */
  private waitForRoom(link: UpstreamLink, retained: boolean): void {
    const all = !retained && spreadsOverBrokers(this.router.strategy) ? this.ctx.publishTargets() : [];
    const targets = all.length > 0 ? all : [link];
    for (const l of targets) if (!l.upstream.writableNeedDrain) return;
    if (this.roomWaits.size === 0) this.ctx.counters.roomPaused(); // not already paused for room
    this.ctx.pauseClient(NO_ROOM);
    for (const l of targets) {
      if (this.roomWaits.has(l)) continue;
      this.roomWaits = writableSet(this.roomWaits);
      this.roomWaits.add(l);
      l.upstream.onRoom(() => {
        this.roomWaits.delete(l);
        this.ctx.resumeClient(NO_ROOM);
      });
    }
  }

  /** Sends (or re-sends) an in-flight QoS 1/2 publish to a broker not in `exclude`. */
  send(entry: InFlight, exclude: readonly string[] = NONE): void {
    if (entry.packet.retain && this.held?.holds(entry.packet.topic)) {
      this.assign(entry, '');
      return this.hold(entry.packet, entry);
    }
    const link = this.pick(entry.packet, exclude);
    this.assign(entry, '');
    if (!link) {
      // Nothing to send it to: keep it; it goes out when a broker (re)joins (resendPending).
      this.ctx.log.warn({ downId: entry.downId }, 'publish held: no broker available');
      return;
    }
    if (entry.packet.retain && (!this.routable(link) || this.behindWaiting(entry))) {
      // Its owner is not routable yet, or an earlier one on its topic waits: kept the same way, it
      // goes out (after that one: resendHeld keeps arrival order) once its owner is routable.
      this.ctx.log.debug(
        { downId: entry.downId, broker: link.brokerId },
        'retained publish waits for its owner',
      );
      return;
    }
    if (this.windowFull(link, entry) || this.windows.hasWaiting(link.brokerId)) {
      entry.queuedFor = link.brokerId;
      this.windows.wait(link.brokerId, entry);
      this.waitingBytes += entry.packet.payload.length;
      return;
    }
    this.dispatch(entry, link);
  }

  /** An earlier retained publish on the entry's topic is kept at no broker: the entry waits behind it. */
  private behindWaiting(entry: InFlight): boolean {
    const topic = entry.packet.topic;
    return this.inflight.someBefore(
      entry.downId,
      (other) => other.packet.retain && waiting(other) && other.packet.topic === topic,
    );
  }

  private windowFull(link: UpstreamLink, entry: InFlight): boolean {
    const id = link.brokerId;
    if (this.windows.inUse(id) >= link.upstream.receiveMaximum) return true;
    return entry.packet.qos === 2 && this.windows.inUseQos2(id) >= link.upstream.qos2Maximum;
  }

  /** Publishes waiting for a slot on this broker go out, oldest first, while it has free slots. */
  sendQueued(link: UpstreamLink): void {
    while (link.upstream.isUp) {
      const waiting = this.windows.peek(link.brokerId);
      if (!waiting || this.windowFull(link, waiting)) return;
      const entry = this.windows.next(link.brokerId);
      if (!entry) return;
      this.unqueue(entry);
      if (this.inflight.get(entry.downId) === entry) this.dispatch(entry, link);
    }
  }

  /** A broker went down: publishes waiting for a slot on it go to another broker. */
  sendWaitingElsewhere(brokerId: string): void {
    for (const entry of this.windows.takeWaiting(brokerId)) {
      this.unqueue(entry);
      if (this.inflight.get(entry.downId) === entry) this.send(entry, [brokerId]);
    }
  }

  private unqueue(entry: InFlight): void {
    entry.queuedFor = undefined;
    this.waitingBytes -= entry.packet.payload.length;
  }

  /** The one place an entry's broker changes, so the per-broker slot counts stay true. */
  assign(entry: InFlight, brokerId: string): void {
    const qos2 = entry.packet.qos === 2;
    if (entry.brokerId !== '') this.windows.release(entry.brokerId, qos2);
    entry.brokerId = brokerId;
    if (brokerId !== '') this.windows.take(brokerId, qos2);
  }

  private dispatch(entry: InFlight, link: UpstreamLink): void {
    // MQTT 5: what waited here (for a broker slot, for any broker, for a retained move, or since its
    // broker died) goes out with its interval reduced by the whole seconds waited, or not at all.
    let packet = entry.packet;
    if (entry.arrivedAt >= 0) {
      const aged = afterWaiting(packet, performance.now() - entry.arrivedAt);
      if (aged === undefined) return this.expire(entry);
      packet = aged;
    }
    entry.attempts += 1;
    if (entry.attempts > MAX_ATTEMPTS) {
      return this.ctx.protocolError(
        `publish ${entry.downId} lost ${MAX_ATTEMPTS} broker connections: refusing it`,
        0x81,
      );
    }
    const upId = link.ids.allocate(entry);
    if (upId === undefined)
      return this.ctx.protocolError(`no packet id left on broker ${link.brokerId}`, 0x97);
    this.assign(entry, link.brokerId);
    entry.upId = upId;
    link.upstream.sendPublishAs(packet, upId, false);
    this.ctx.counters.published(link.brokerId);
  }

  /** A broker became available: publishes held for lack of any broker go out now. */
  resendHeld(): void {
    this.inflight.forEachInOrder((entry) => {
      if (waiting(entry)) this.send(entry);
    });
    // A client paused for want of room (waitForRoom) reads again: the new broker may have it.
    this.ctx.resumeClient(NO_ROOM);
  }

  /** A retained publish waits for the move of its topic's retained value (its acknowledgement waits too). */
  hold(packet: IPublishPacket, entry: InFlight | undefined, arrivedAt = -1): void {
    if (entry) entry.fenced = true;
    // Its owner after the move may be a broker a lazy session has no link to: open them before release.
    if (!this.ctx.linksSettled) this.ctx.openEveryLink();
    this.held?.add(packet, entry, arrivedAt);
    if (this.held?.full) this.ctx.pauseClient('retained move');
  }

  /**
   * The pool's fence changed: held retained publishes it no longer covers go out, in arrival order.
   * Returns whether any was held (the caller updates the pause then).
   */
  releaseRetained(): boolean {
    if (!this.held || this.held.size === 0) return false;
    for (const { packet, entry, arrivedAt } of this.held.release()) {
      if (!entry) this.routeQos0(packet, arrivedAt);
      else if (this.inflight.get(entry.downId) === entry) {
        entry.fenced = false;
        this.send(entry);
      }
    }
    if (!this.held.full) this.ctx.resumeClient('retained move');
    return true;
  }

  /** Retained publishes sent before the fence on `brokerId` and not finished (see unsettledRetained). */
  retainedUnsettled(fence: RetainedFence, brokerId: string): number {
    return unsettledRetained(this.inflight.values(), fence, brokerId);
  }
}
