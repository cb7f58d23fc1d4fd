import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { hasMoveMarker, withoutMoveMarker } from '../../common/move-marker.ts';
import { IdTable } from '../protocol/id-table.ts';
import { STAYING_FRAME_MS } from '../protocol/kept-frames.ts';
import { PacketIdSpace } from '../protocol/packet-ids.ts';
import { ownFrame } from '../protocol/raw-frame.ts';
import type { SessionContext, UpstreamLink } from './context.ts';
import {
  emptyArray,
  emptyMap,
  emptySet,
  writableArray,
  writableMap,
  writableSet,
} from './lazy-collections.ts';
import { afterWaiting } from './message-expiry.ts';

interface Delivery {
  brokerId: string;
  upId: number;
  qos: 1 | 2;
  /** QoS 2: the client sent PUBREC (relayed); waiting for the broker's PUBREL. */
  received: boolean;
}

/** An acknowledgement with the reason code, or without one (mqtt-packet writes the short form). */
function ackOf(
  cmd: 'puback' | 'pubrec' | 'pubcomp',
  messageId: number,
  reasonCode: number | undefined,
): Packet {
  return reasonCode === undefined ? { cmd, messageId } : { cmd, messageId, reasonCode };
}

/** (broker, upstream id) → downstream id, without building a string key per message. */
class UpstreamIds {
  /** Allocated on the first QoS 1/2 delivery (lazy-collections.ts). */
  private perBroker = emptyMap<string, IdTable<number>>();

  get(brokerId: string, upId: number): number | undefined {
    return this.perBroker.get(brokerId)?.get(upId);
  }

  set(brokerId: string, upId: number, downId: number): void {
    let ids = this.perBroker.get(brokerId);
    if (!ids) {
      ids = new IdTable();
      this.perBroker = writableMap(this.perBroker);
      this.perBroker.set(brokerId, ids);
    }
    ids.set(upId, downId);
  }

  delete(brokerId: string, upId: number): void {
    this.perBroker.get(brokerId)?.delete(upId);
  }

  trim(): void {
    for (const ids of this.perBroker.values()) ids.trim();
  }
}

/**
 * Deliveries from brokers to the client (broker → orchestrator → client), with packet-id remapping:
 * one downstream id space, one upstream id space per broker. Acknowledgements go back to the broker
 * that sent the message. The client's in-flight window is bounded (its receive maximum, or ours);
 * while it is full, or the client's socket is full, the session stops reading from its brokers.
 */
export class OutboundDeliveries {
  private readonly ids = new PacketIdSpace<Delivery>();
  /** (broker, upstream id) → downstream id, for QoS 2 PUBRELs and duplicate deliveries. */
  private readonly byUpstream = new UpstreamIds();
  /** Deliveries waiting for the client's window, with when they arrived (performance.now(), ms). */
  private waiting: Array<{ link: UpstreamLink; packet: IPublishPacket; at: number }> = emptyArray();
  /**
   * QoS 2 deliveries the client had when their broker's link was lost, by broker: a resumed upstream
   * session (limits.upstreamLinkGraceSeconds) re-sends them with DUP 1; they are not delivered twice.
   */
  private handedOver = emptyMap<string, Set<number>>();
  /**
   * Downstream ids of QoS 2 deliveries the client PUBREC'd whose PUBREL has not come from the broker:
   * while there is one, the window drains only by reading that broker, so it is not paused (updatePause).
   */
  private awaitingBrokerRelease = emptySet<number>();

  constructor(
    private readonly ctx: SessionContext,
    /** QoS 1/2 deliveries unacknowledged by the client at once. */
    readonly window: number,
    /** Deliveries buffered while the window is full, before reading from brokers stops. */
    readonly maxBuffered: number,
    /** The client's maximum packet size (v5), or Infinity. */
    readonly clientMaxPacketBytes: number,
  ) {}

  get inflight(): number {
    return this.ids.size;
  }

  get buffered(): number {
    return this.waiting.length;
  }

  onBrokerPublish(link: UpstreamLink, packet: IPublishPacket): void {
    if (packet.qos === 2 && this.handedOver.size > 0 && this.resentAfterLoss(link, packet)) return;
    this.ctx.counters.delivered(link.brokerId);
    if (packet.qos > 0 && (this.ids.size >= this.window || this.waiting.length > 0)) {
      this.waiting = writableArray(this.waiting);
      this.waiting.push({ link, packet, at: performance.now() });
      this.updatePause();
      return;
    }
    this.deliver(link, packet, -1);
  }

  /** `arrivedAt`: when a delivery that waited here arrived (message-expiry.ts); -1 for one that did not. */
  private deliver(link: UpstreamLink, packet: IPublishPacket, arrivedAt: number): void {
    // As it arrived: what waits again (no packet id free) is counted down from its arrival once more.
    const arrived = packet;
    if (arrivedAt >= 0) {
      const aged = afterWaiting(packet, performance.now() - arrivedAt);
      if (aged === undefined) {
        this.ctx.counters.expired(link.brokerId);
        return this.acknowledgeUndelivered(link, packet);
      }
      packet = aged;
    }
    if (packet.properties !== undefined && hasMoveMarker(packet.properties.userProperties)) {
      if (!packet.retain) return this.acknowledgeUndelivered(link, packet);
      packet = { ...packet, properties: withoutMoveMarker(packet.properties) };
    }
    // No copy, and no `delete` (which turns an object into a slow dictionary), unless something changes.
    const out: IPublishPacket =
      this.ctx.version !== 5 && packet.properties !== undefined
        ? { ...packet, properties: undefined }
        : packet;
    if (packet.qos === 0) {
      this.write(out, undefined);
      return;
    }
    let downId = this.byUpstream.get(link.brokerId, packet.messageId ?? 0);
    if (downId === undefined) {
      downId = this.ids.allocate({
        brokerId: link.brokerId,
        upId: packet.messageId ?? 0,
        qos: packet.qos,
        received: false,
      });
      if (downId === undefined) {
        this.waiting = writableArray(this.waiting);
        this.waiting.unshift({ link, packet: arrived, at: arrivedAt >= 0 ? arrivedAt : performance.now() });
        return;
      }
      this.byUpstream.set(link.brokerId, packet.messageId ?? 0, downId);
    }
    this.write(out, downId);
  }

  /**
   * A delivery the client is not to get, acknowledged upstream and not delivered (a QoS 2 one's PUBREL
   * then finds no delivery and gets its PUBCOMP in onBrokerPubrel): one that expired while it waited
   * here (message-expiry.ts), or a retained move's copy (or clear) delivered as a live message
   * (common/move-marker.ts): RETAIN 0, so sent on an established subscription, whose client had the
   * value live already: 3.1.1 [MQTT-3.3.1-9], v5 Retain As Published 0 [MQTT-3.3.1-12]. One sent as
   * retained on a new subscription (RETAIN 1: 3.1.1 [MQTT-3.3.1-8], v5 §3.3.1.3) is delivered, the
   * marker stripped (deliver). A v5 subscription with Retain As Published 1 gets live copies with
   * RETAIN 1 too [MQTT-3.3.1-13]: those are delivered, as before (docs/retained-moves.md).
   */
  private acknowledgeUndelivered(link: UpstreamLink, packet: IPublishPacket): void {
    if (packet.qos === 0) return;
    link.upstream.send({ cmd: packet.qos === 1 ? 'puback' : 'pubrec', messageId: packet.messageId ?? 0 });
  }

  /** The delivery goes to the client under packet id `downId` (none: QoS 0). */
  private write(packet: IPublishPacket, downId: number | undefined): void {
    // [MQTT-3.1.2-25]: never send a packet larger than the client's maximum; acknowledge it upstream.
    if (this.clientMaxPacketBytes !== Number.POSITIVE_INFINITY) {
      const size =
        Buffer.byteLength(packet.topic) +
        (Buffer.isBuffer(packet.payload)
          ? packet.payload.length
          : Buffer.byteLength(String(packet.payload))) +
        16;
      if (size > this.clientMaxPacketBytes) {
        this.ctx.log.warn(
          { topic: packet.topic, size },
          'delivery larger than the client accepts: discarded',
        );
        if (downId !== undefined) this.discard(downId);
        return;
      }
    }
    const room =
      downId !== undefined
        ? this.ctx.sendDownAs(packet, downId, packet.dup)
        : this.ctx.sendDown(packet.messageId === undefined ? packet : { ...packet, messageId: undefined });
    if (!room) {
      this.ctx.pauseUpstreams('client write buffer full');
    }
  }

  private discard(downId: number): void {
    const d = this.ids.release(downId);
    if (!d) return;
    this.byUpstream.delete(d.brokerId, d.upId);
    this.ctx.link(d.brokerId)?.upstream.send({ cmd: d.qos === 1 ? 'puback' : 'pubrec', messageId: d.upId });
  }

  /** PUBACK / PUBREC / PUBCOMP from the client. */
  onClientAck(packet: Packet & { messageId?: number }): void {
    const downId = packet.messageId ?? 0;
    const d = this.ids.get(downId);
    if (!d) return;
    const link = this.ctx.link(d.brokerId);
    const reasonCode = (packet as { reasonCode?: number }).reasonCode;
    // A v5 broker hears the client's reason code; a 3.1.1 one the short form.
    const relayed = link?.upstream.protocolVersion === 5 ? reasonCode : undefined;
    if (
      packet.cmd === 'puback' ||
      packet.cmd === 'pubcomp' ||
      (packet.cmd === 'pubrec' && (reasonCode ?? 0) >= 0x80)
    ) {
      this.ids.release(downId);
      this.awaitingBrokerRelease.delete(downId);
      this.byUpstream.delete(d.brokerId, d.upId);
      if (packet.cmd === 'puback' && (reasonCode ?? 0) === 0) link?.upstream.sendPuback(d.upId);
      else link?.upstream.send(ackOf(packet.cmd, d.upId, relayed));
      this.drainWaiting();
    } else if (packet.cmd === 'pubrec') {
      d.received = true;
      if (link) {
        link.upstream.send(ackOf('pubrec', d.upId, relayed));
        this.awaitingBrokerRelease = writableSet(this.awaitingBrokerRelease);
        this.awaitingBrokerRelease.add(downId);
        this.updatePause();
      }
      // Its broker is gone (onBrokerDown): the flow ends here; the client has the message.
      else if (d.brokerId === '') this.ctx.sendDown({ cmd: 'pubrel', messageId: downId, reasonCode: 0 });
    }
  }

  /** QoS 2 deliveries the client received (PUBREC) and whose PUBREL has not come: kept if it leaves. */
  awaitingRelease(): Array<{ broker: string; up: number; down: number }> {
    const out: Array<{ broker: string; up: number; down: number }> = [];
    for (const [down, d] of this.ids.entries())
      if (d.received) out.push({ broker: d.brokerId, up: d.upId, down });
    return out;
  }

  /**
   * A resumed session: the broker re-sends PUBREL for a QoS 2 delivery the client received in its
   * previous connection [MQTT-4.4.0-1]; it is relayed under the id the client knows.
   */
  expectRelease(brokerId: string, upId: number, downId: number): void {
    if (this.ids.get(downId)) return;
    this.ids.set(downId, { brokerId, upId, qos: 2, received: true });
    this.byUpstream.set(brokerId, upId, downId);
    this.awaitingBrokerRelease = writableSet(this.awaitingBrokerRelease);
    this.awaitingBrokerRelease.add(downId);
  }

  /**
   * PUBREL from a broker (QoS 2 delivery): relayed to the client under the downstream id. Success is
   * written in the short form (reason code omitted [MQTT 5 §3.6.2.1]), as Mosquitto does: paho-mqtt
   * 1.6's network thread dies on a v5 PUBREL longer than 2 bytes.
   */
  onBrokerPubrel(link: UpstreamLink, upId: number): void {
    const downId = this.byUpstream.get(link.brokerId, upId);
    if (downId === undefined) {
      link.upstream.send({ cmd: 'pubcomp', messageId: upId }); // already completed
      return;
    }
    this.ctx.sendDown({ cmd: 'pubrel', messageId: downId, reasonCode: 0 });
    if (this.awaitingBrokerRelease.delete(downId)) this.updatePause();
  }

  /**
   * A QoS 2 delivery the client already has, re-sent by a resumed upstream session [MQTT-4.4.0-1]:
   * PUBREC'd here (the client's flow ended with the orchestrator's PUBREL), its PUBREL then gets a
   * PUBCOMP (onBrokerPubrel). The same id without DUP is a new message: the old flow is over.
   */
  private resentAfterLoss(link: UpstreamLink, packet: IPublishPacket): boolean {
    const ids = this.handedOver.get(link.brokerId);
    const upId = packet.messageId ?? 0;
    if (!ids?.delete(upId)) return false;
    if (ids.size === 0) this.handedOver.delete(link.brokerId);
    if (!packet.dup) return false;
    link.upstream.send({ cmd: 'pubrec', messageId: upId });
    return true;
  }

  /** A link that did not resume its upstream session: nothing of the old one comes again. */
  forgetHandedOver(brokerId: string): void {
    this.handedOver.delete(brokerId);
  }

  /**
   * A broker went down: its unacknowledged deliveries can no longer be acknowledged upstream. The
   * client still holds their ids [MQTT-2.3.1-2], so they stay taken until it finishes each flow with
   * us: a QoS 2 one gets its PUBREL from the orchestrator (the client has the message; without it a
   * client that hands QoS 2 messages over on PUBREL, as MQTT.js does, would never see it).
   */
  onBrokerDown(brokerId: string): void {
    for (const [downId, d] of [...this.ids.entries()]) {
      if (d.brokerId !== brokerId) continue;
      this.byUpstream.delete(brokerId, d.upId);
      this.awaitingBrokerRelease.delete(downId);
      if (d.qos === 2) {
        const ids = this.handedOver.get(brokerId) ?? new Set<number>();
        this.handedOver = writableMap(this.handedOver);
        this.handedOver.set(brokerId, ids.add(d.upId));
      }
      d.brokerId = '';
      if (d.qos === 2 && d.received) this.ctx.sendDown({ cmd: 'pubrel', messageId: downId, reasonCode: 0 });
    }
    for (let i = this.waiting.length - 1; i >= 0; i--)
      if (this.waiting[i]?.link.brokerId === brokerId) this.waiting.splice(i, 1);
    this.drainWaiting();
  }

  /** The session's tick: deliveries waiting for the client's window leave old slabs (kept-frames.ts). */
  rehomeKept(now: number): void {
    const before = now - STAYING_FRAME_MS;
    for (const w of this.waiting) ownFrame(w.packet, before);
  }

  /** The session's tick: the id tables give back what they no longer need (id-table.ts). */
  trimIds(): void {
    this.ids.trim();
    this.byUpstream.trim();
  }

  /** The client's socket drained: deliver what waited. */
  onClientDrain(): void {
    this.drainWaiting();
    this.ctx.resumeUpstreams('client write buffer full');
  }

  private drainWaiting(): void {
    while (this.waiting.length > 0 && this.ids.size < this.window) {
      const next = this.waiting.shift();
      if (next) this.deliver(next.link, next.packet, next.at);
    }
    this.updatePause();
  }

  /**
   * The session's pause reasons are a set: pausing twice or resuming an unpaused reason is a no-op.
   * A full buffer pauses the brokers only while the window can drain without them: a QoS 2 delivery
   * the client PUBREC'd ends only with its broker's PUBREL, which may sit behind buffered publishes in
   * that socket (Mosquitto 2.0.11 sends a new subscription's retained messages past its in-flight
   * window: pausing then left the window full of QoS 2 deliveries for good). Over the bound meanwhile
   * by at most what the broker sends before that PUBREL.
   */
  private updatePause(): void {
    if (this.waiting.length >= this.maxBuffered && this.awaitingBrokerRelease.size === 0)
      this.ctx.pauseUpstreams('delivery buffer full');
    else this.ctx.resumeUpstreams('delivery buffer full');
  }
}
