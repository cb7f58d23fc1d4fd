import type { IPublishPacket, Packet } from 'mqtt-packet';
import { hasMoveMarker } from '../../common/move-marker.ts';
import { type RetainedFence, unmovableRetainedTopic } from '../pool/retained-fence.ts';
import { IdTable } from '../protocol/id-table.ts';
import { STAYING_FRAME_MS } from '../protocol/kept-frames.ts';
import { ownFrame } from '../protocol/raw-frame.ts';
import { unaliased } from '../protocol/raw-write.ts';
import { isReservedTopic } from '../registry/reserved.ts';
import type { Router } from '../routing/strategies.ts';
import { AckOrder, type AckSink } from './ack-order.ts';
import type { SessionContext, UpstreamLink } from './context.ts';
import { EMPTY, type InFlight, type Qos2Options } from './inflight-publish.ts';
import { arrivalOf } from './message-expiry.ts';
import { PublishRouting } from './publish-routing.ts';
import { RecentReplays, type ReplayOptions } from './recent-replays.ts';
import type { RetainedFenceSource } from './retained-hold.ts';
import { type TopicAliases, topicNameProblem } from './topic-alias.ts';

/**
 * A client's PUBLISH flows (client → orchestrator → one broker). QoS 1/2 are acknowledged to the
 * client only after the broker acknowledged; a QoS 2 flow stays on its broker from PUBLISH to PUBCOMP.
 * When a broker goes down, publishes it had not acknowledged are re-sent to another broker.
 * No broker gets more unacknowledged publishes from the session than its receive maximum: the rest
 * wait in routing order (a broker over its quota refuses, or with 3.1.1 silently drops, a QoS 2 one).
 *
 * The client is no longer read once `maxInflight` publishes are at brokers unacknowledged, or once the
 * publishes waiting for a broker slot hold `maxWaitingBytes` of payload. Neither counts QoS 2 publishes
 * already PUBREC'd to the client: their PUBRELs may be behind further publishes in what we would stop
 * reading (a 3.1.1 client has no receive maximum). Those keep no payload (with 'drop'; with 'resend'
 * at most qos2.maxKeptBytes of it); the client's 65 535 packet ids bound them.
 */
export class InboundPublishes implements AckSink<InFlight> {
  /**
   * By the client's packet id. An IdTable, not a Map: V8 gives a Map a new table when a delete leaves it
   * under a quarter full, so a client with one publish in flight at a time (one a second, say) made
   * a table per message that lived until its next, and moved to the old generation (id-table.ts).
   */
  private readonly inflight = new IdTable<InFlight>();
  /** Where and when each publish goes out: routing, broker windows, retained hold (publish-routing.ts). */
  private readonly routing: PublishRouting;
  /** Entries with `received` set. */
  private receivedCount = 0;
  /** Payload bytes kept by PUBREC'd QoS 2 entries, to re-send them if their broker dies. */
  private keptQos2Bytes = 0;
  /** PUBACK / PUBREC to the client in the order of the PUBLISHes. */
  private readonly order = new AckOrder<InFlight>();
  /** Entries finished at their broker whose acknowledgement waits in `order` (no longer in `inflight`). */
  private ackedHeld = 0;
  /** Recent QoS 1 publishes, replayed when their broker dies (recent-replays.ts). */
  private readonly replays: RecentReplays;

  constructor(
    private readonly ctx: SessionContext,
    router: Router,
    private readonly aliases: TopicAliases,
    /** Unacknowledged QoS 1/2 publishes from the client before we stop reading it (and v5 receive maximum). */
    readonly maxInflight: number,
    replay: ReplayOptions = { windowMs: 0, maxMessages: 0 },
    private readonly maxWaitingBytes = 1024 * 1024,
    private readonly qos2: Qos2Options = { onBrokerLoss: 'resend', maxKeptBytes: 8 * 1024 * 1024 },
    fences?: RetainedFenceSource,
  ) {
    this.routing = new PublishRouting(
      ctx,
      router,
      this.inflight,
      (entry) => this.expire(entry),
      maxWaitingBytes,
      fences,
    );
    this.replays = new RecentReplays(ctx, this.routing, this.inflight, replay);
  }

  get size(): number {
    return this.inflight.size;
  }

  onPublish(packet: IPublishPacket): void {
    const topic = this.aliases.resolve(packet.topic, packet.properties?.topicAlias);
    if (typeof topic !== 'string') return this.ctx.protocolError(topic.error, 0x94);
    const problem = topicNameProblem(topic);
    if (problem) return this.ctx.protocolError(problem, 0x90);
    if (isReservedTopic(topic)) return this.refuseReserved(packet);
    // The retained move's marker is ours (common/move-marker.ts): a client's would hide its message.
    if (packet.properties?.userProperties && hasMoveMarker(packet.properties.userProperties))
      return this.refuseReserved(packet, 0x87, 'publish with the reserved user property refused');
    if (packet.retain && unmovableRetainedTopic(topic)) {
      // A '$' topic's retained value could never be found to be moved (docs/retained-moves.md).
      return this.ctx.protocolError(`retained publish to ${topic}: $ topics cannot be retained`, 0x90);
    }
    // A packet without a topic alias is forwarded as it is (its properties the very object the fast
    // path read, so the writer forwards the frame: raw-write.ts `forwardable`); one with an alias as the
    // topic it stands for, without the alias (which the writer leaves out of the frame).
    const forward: IPublishPacket =
      packet.properties?.topicAlias === undefined ? packet : unaliased(packet, topic);
    // MQTT 5: its wait here counts from its arrival (earlier if it was set aside: message-expiry.ts).
    const arrivedAt = packet.properties?.messageExpiryInterval === undefined ? -1 : arrivalOf(packet);
    if (packet.qos === 0) {
      if (packet.retain) this.replays.arrive(forward.topic);
      if (packet.retain && this.routing.held?.holds(forward.topic))
        return this.routing.hold(forward, undefined, arrivedAt);
      this.routing.routeQos0(forward, arrivedAt);
      return;
    }
    const downId = packet.messageId ?? 0;
    const existing = this.inflight.get(downId);
    if (existing && existing.packet.qos !== packet.qos) {
      // [MQTT-2.3.1-2]: a packet identifier still in use by an unfinished flow.
      return this.ctx.protocolError(`packet identifier ${downId} reused while in use`, 0x82);
    }
    if (existing) {
      // A re-sent QoS 2 PUBLISH [MQTT-4.3.3-?]: never a second copy on another broker.
      if (existing.received) {
        if (existing.ack === undefined)
          this.ctx.sendDown({ cmd: 'pubrec', messageId: downId, reasonCode: 0 });
      } else
        this.ctx
          .link(existing.brokerId)
          ?.upstream.send({ ...existing.packet, messageId: existing.upId, dup: true });
      return;
    }
    // A v5 client is paused at the Receive Maximum we announced (updatePause); what it had already
    // sent then still arrives. Only a client that goes a whole further window past it is refused:
    // MQTT.js ignores a server's Receive Maximum, and acknowledgements held in PUBLISH order
    // (ack-order.ts) behind a broker that went silent would otherwise cost it its connection.
    if (this.inflight.size + this.ackedHeld >= 2 * this.maxInflight && this.ctx.version === 5) {
      return this.ctx.protocolError(`more than ${2 * this.maxInflight} unacknowledged publishes`, 0x93); // receive maximum exceeded [MQTT-3.3.4-7]
    }
    const entry: InFlight = {
      kind: 'publish',
      downId,
      brokerId: '',
      upId: 0,
      packet: forward,
      received: false,
      stored: false,
      released: false,
      attempts: 0,
      ack: undefined,
      done: false,
      retainSeq: packet.retain ? this.replays.arrive(forward.topic) : 0,
      arrivedAt,
    };
    this.inflight.set(downId, entry);
    this.order.push(entry);
    this.routing.send(entry);
    this.updatePause();
  }

  /**
   * A publish into the session registry's reserved space goes to no broker. v5: PUBACK / PUBREC
   * 0x90 (Topic Name invalid: well-formed, not accepted); 3.1.1 has no way to say no, so it is
   * acknowledged and dropped, as Mosquitto does with a publish its ACL denies. QoS 0: dropped.
   * The same for a publish carrying the move marker (v5 only: 0x87 Not authorized).
   */
  private refuseReserved(
    packet: IPublishPacket,
    reasonCode = 0x90,
    why = 'publish to the reserved topic space refused',
  ): void {
    this.ctx.log.info({ topic: packet.topic }, why);
    if (packet.qos === 0) return;
    const downId = packet.messageId ?? 0;
    const reason = this.ctx.version === 5 ? { reasonCode } : {};
    const cmd = packet.qos === 1 ? 'puback' : 'pubrec';
    // Never in flight, but its answer still goes after every earlier publish's ([MQTT-4.6.0-2], -3).
    const entry: InFlight = {
      kind: 'publish',
      downId,
      brokerId: '',
      upId: 0,
      packet,
      received: false,
      stored: false,
      released: false,
      attempts: 0,
      ack: undefined,
      done: true,
      retainSeq: 0,
      arrivedAt: -1,
    };
    this.order.push(entry);
    this.acknowledge(entry, { cmd, messageId: downId, ...reason });
  }

  /**
   * QoS 2 accepted by a broker. With 'drop' only the ids are needed from now on; with 'resend' the
   * payload is kept until PUBCOMP (within qos2.maxKeptBytes), to go to another broker if this one dies.
   */
  private markReceived(entry: InFlight): void {
    entry.stored = true;
    if (entry.received) return;
    entry.received = true;
    this.receivedCount += 1;
    const bytes = entry.packet.payload.length;
    if (this.qos2.onBrokerLoss === 'resend' && this.keptQos2Bytes + bytes <= this.qos2.maxKeptBytes) {
      this.keptQos2Bytes += bytes;
      return;
    }
    if (this.qos2.onBrokerLoss === 'resend')
      this.ctx.log.warn(
        { downId: entry.downId },
        'QoS 2 payloads over qos2 bound: this one is not kept for re-sending',
      );
    // Nor its frame: a fast-path packet carries it (`raw`), payload included.
    const { raw: _frame, ...rest } = entry.packet as IPublishPacket & { raw?: unknown };
    entry.packet = { ...rest, payload: EMPTY, properties: undefined };
  }

  private forget(entry: InFlight): void {
    this.routing.assign(entry, '');
    if (entry.received) {
      this.receivedCount -= 1;
      this.keptQos2Bytes -= entry.packet.payload.length;
    }
    this.inflight.delete(entry.downId);
    entry.done = true;
  }

  /** AckOrder's sink: an acknowledgement now due goes to the client. */
  sendAck(packet: Packet, entry: InFlight): void {
    if (entry.done) this.ackedHeld -= 1;
    this.ctx.sendDown(packet);
  }

  /** The client's PUBACK / PUBREC for an entry, sent once every earlier publish's is ([MQTT-4.6.0-2], -3). */
  private acknowledge(entry: InFlight, ack: Packet): void {
    if (entry.done) this.ackedHeld += 1;
    this.order.ready(entry, ack, this);
  }

  /** PUBACK / PUBREC / PUBCOMP from a broker for one of our publishes. */
  onBrokerAck(link: UpstreamLink, packet: Packet & { messageId?: number }, downId: number): void {
    const entry = this.inflight.get(downId);
    if (!entry || entry.brokerId !== link.brokerId || entry.upId !== packet.messageId) return;
    const reasonCode = (packet as { reasonCode?: number }).reasonCode;
    const relayed = this.ctx.version === 5 ? (reasonCode ?? 0) : 0; // 0: the short form
    switch (packet.cmd) {
      case 'puback':
        link.ids.release(entry.upId);
        if (entry.packet.qos === 2) {
          // A broker without QoS 2 (RabbitMQ 3.10) answers a QoS 2 PUBLISH with PUBACK and keeps it
          // at QoS 1. The client still gets the QoS 2 handshake: PUBREC now, PUBCOMP on its PUBREL.
          this.settleQos2WithoutBroker(entry);
          break;
        }
        this.forget(entry);
        this.replays.acknowledged(link.brokerId, entry);
        this.acknowledge(entry, { cmd: 'puback', messageId: downId, reasonCode: relayed });
        break;
      case 'pubrec':
        if (entry.received) {
          // Re-sent after its first broker died: the client has its PUBREC; its PUBREL may be here.
          if (reasonCode !== undefined && reasonCode >= 0x80) {
            link.ids.release(entry.upId);
            this.ctx.log.warn({ downId, reasonCode }, 'a re-sent QoS 2 publish was refused: dropped');
            this.complete(entry);
          } else {
            entry.stored = true;
            if (entry.released) link.upstream.send({ cmd: 'pubrel', messageId: entry.upId });
          }
          break;
        }
        if (reasonCode !== undefined && reasonCode >= 0x80) {
          link.ids.release(entry.upId);
          this.forget(entry);
        } else {
          this.markReceived(entry);
        }
        this.acknowledge(entry, { cmd: 'pubrec', messageId: downId, reasonCode: relayed });
        break;
      case 'pubcomp':
        link.ids.release(entry.upId);
        this.forget(entry);
        this.ctx.sendDown({ cmd: 'pubcomp', messageId: downId, reasonCode: relayed });
        break;
    }
    this.routing.sendQueued(link);
    this.updatePause();
  }

  /**
   * A QoS 2 publish no broker keeps a QoS 2 flow for (a QoS 1 broker took it, or it expired here): the
   * client gets its PUBREC now (unless it had it, re-sent after its first broker died) and its PUBCOMP
   * on its PUBREL (onPubrel: stored, at no broker).
   */
  private settleQos2WithoutBroker(entry: InFlight): void {
    const again = entry.received;
    this.markReceived(entry);
    this.routing.assign(entry, '');
    if (!again) this.acknowledge(entry, { cmd: 'pubrec', messageId: entry.downId, reasonCode: 0 });
    else if (entry.released) this.complete(entry);
  }

  /**
   * MQTT 5: a publish whose Message Expiry Interval ran out while it waited here for a broker is
   * discarded [MQTT-3.3.2-5] (the server may: it is not delivered to anyone); the client's flow ends as
   * if a broker had taken it: PUBACK, or PUBREC then PUBCOMP, in PUBLISH order.
   */
  private expire(entry: InFlight): void {
    this.ctx.log.debug(
      { downId: entry.downId, topic: entry.packet.topic },
      'publish expired before any broker took it',
    );
    this.ctx.counters.publishExpired();
    if (entry.packet.qos === 2) this.settleQos2WithoutBroker(entry);
    else {
      this.forget(entry);
      this.acknowledge(entry, { cmd: 'puback', messageId: entry.downId, reasonCode: 0 });
    }
    this.updatePause();
  }

  /** PUBREL from the client: forwarded to the broker that holds the QoS 2 flow. */
  onPubrel(downId: number): void {
    const entry = this.inflight.get(downId);
    if (!entry) {
      // Unknown (already completed): PUBCOMP so the client can finish [MQTT-4.3.3-?].
      this.ctx.sendDown({
        cmd: 'pubcomp',
        messageId: downId,
        ...(this.ctx.version === 5 ? { reasonCode: 0x92 } : {}),
      });
      return;
    }
    entry.released = true;
    // Being re-sent after its broker died ('resend'): the PUBREL follows the new broker's PUBREC.
    if (!entry.stored) return;
    // Finished at a QoS 1 broker, or its broker died and the message went with it ('drop').
    if (entry.brokerId === '') return this.complete(entry);
    const link = this.ctx.link(entry.brokerId);
    // Its link is gone, its loss not handled yet (a 3.1.1 link closed after a PUBREC is settled
    // later: upstream-links.ts): the broker never got this PUBREL, so nothing stored the message.
    // onBrokerDown re-sends it and the PUBREL follows ('drop': finished there).
    if (!link?.upstream.isUp) return;
    link.upstream.send({ cmd: 'pubrel', messageId: entry.upId });
  }

  /** A QoS 2 flow ends for the client: PUBCOMP now. */
  private complete(entry: InFlight): void {
    this.forget(entry);
    this.ctx.sendDown({ cmd: 'pubcomp', messageId: entry.downId, reasonCode: 0 });
    this.updatePause();
  }

  /**
   * A QoS 2 publish its broker accepted (PUBREC) is lost with that broker unless it had delivered it
   * (Mosquitto delivers on PUBREL). 'resend': to another broker, then PUBREL there (a duplicate when
   * the dead broker had delivered it); 'drop' (or its payload was not kept): finished for the client.
   */
  private onStoredLost(entry: InFlight, brokerId: string): void {
    if (this.qos2.onBrokerLoss === 'resend' && entry.packet.payload !== EMPTY) {
      entry.stored = false;
      this.routing.send(entry, [brokerId]);
      return;
    }
    this.ctx.log.warn({ downId: entry.downId, broker: brokerId }, 'QoS 2 publish lost with its broker');
    this.routing.assign(entry, '');
    if (entry.released) this.complete(entry);
  }

  /**
   * The session's tick: kept frames leave slabs sealed long ago (kept-frames.ts): the replay window's
   * (RecentReplays.rehome), and those of publishes still here, in flight or waiting, or finished with
   * their acknowledgement held behind an earlier one.
   */
  rehomeKept(now: number): void {
    this.replays.rehome(now);
    const before = now - STAYING_FRAME_MS;
    this.inflight.forEach((entry) => {
      ownFrame(entry.packet, before);
    });
    // The rest of those whose PUBACK waits are in the in-flight table, just swept.
    for (const entry of this.order.pendingItems()) if (entry.done) ownFrame(entry.packet, before);
  }

  /** The session's tick: the in-flight table gives back what it no longer needs (id-table.ts). */
  trimIds(): void {
    this.inflight.trim();
  }

  /** A broker died: the QoS 1 publishes it acknowledged recently are sent again (RecentReplays). */
  replayRecent(brokerId: string): number {
    return this.replays.replay(brokerId);
  }

  /** A broker went down: publishes it had not acknowledged go to another broker. */
  onBrokerDown(brokerId: string): void {
    this.inflight.forEachInOrder((entry) => {
      if (entry.brokerId !== brokerId) return;
      if (entry.stored) this.onStoredLost(entry, brokerId);
      else this.routing.send(entry, [brokerId]);
    });
    this.routing.sendWaitingElsewhere(brokerId);
    // A retained publish held until its owner is routable: the owner may have been this broker.
    this.routing.resendHeld();
  }

  /** A broker left the pool in order (drained, removed): its publishes move; none is replayed. */
  onBrokerLeft(brokerId: string): void {
    this.onBrokerDown(brokerId);
    this.replays.forget(brokerId);
  }

  /** A broker became available: publishes held for lack of any broker go out now. */
  resendHeld(): void {
    this.routing.resendHeld();
  }

  /** The pool's fence changed: held retained publishes it no longer covers go out, in arrival order. */
  releaseRetained(): void {
    if (this.routing.releaseRetained()) this.updatePause();
  }

  /** Retained publishes sent before the fence on `brokerId` and not finished (see unsettledRetained). */
  retainedUnsettled(fence: RetainedFence, brokerId: string): number {
    return this.routing.retainedUnsettled(fence, brokerId);
  }

  /** Publishes routed to a broker and not yet acknowledged by it (the admin API's in-flight count). */
  inflightOn(brokerId: string): number {
    return this.routing.windows.inUse(brokerId);
  }

  /** The session's pause reasons are a set: pausing twice or resuming an unpaused reason is a no-op. */
  private updatePause(): void {
    // v5: everything the client has not had acknowledged counts (its Receive Maximum, ours to announce);
    // 3.1.1: publishes waiting for a broker slot do not (they are bounded by maxWaitingBytes instead).
    // Neither counts QoS 2 publishes already PUBREC'd: their PUBRELs may be behind what we would not read.
    const waiting = this.ctx.version === 5 ? 0 : this.routing.windows.waitingCount;
    const atBrokers = this.inflight.size + this.ackedHeld - this.receivedCount - waiting;
    if (atBrokers >= this.maxInflight || this.routing.waitingBytes >= this.maxWaitingBytes)
      this.ctx.pauseClient('in-flight window full');
    else this.ctx.resumeClient('in-flight window full');
  }
}
