import { performance } from 'node:perf_hooks';
import process from 'node:process';
import type { IConnackPacket, IConnectPacket, IPublishPacket, Packet } from 'mqtt-packet';
import { TimeoutError } from '../../common/errors.ts';
import { AnswerTimeout } from '../../common/net/answer-timeout.ts';
import { type BrokerTls, connectBroker } from '../../common/net/broker-socket.ts';
import { type FramedHandler, FramedStream, sharedReads } from '../protocol/framed-stream.ts';
import { deliveryFrames } from '../protocol/kept-frames.ts';
import { type AckHolder, type HeldAcks, HoldGuard } from './held-acks.ts';
import { emptyArray, takeAll, writableArray } from './lazy-collections.ts';
import { everySecond, type TickMember } from './ticker.ts';

/** What a client's DISCONNECT asks of the brokers (MQTT 5 only; a 3.1.1 broker hears a plain one). */
export interface DisconnectOptions {
  /** 0x04: disconnect with will message. */
  reasonCode?: number | undefined;
  /** Replaces the CONNECT's Session Expiry Interval (§3.14.2.2.2). */
  sessionExpiryInterval?: number | undefined;
}

/** What an Upstream reports after its CONNACK (attach()): one object per link, not three closures. */
export interface UpstreamSink {
  /** A packet from the broker (not PINGRESP). */
  packet(p: Packet): void;
  /** The link is down, once, with the reason. */
  down(reason: string): void;
  /** A packet sent to the broker could not be encoded at the link's protocol level. */
  unencodable(p: Packet, err: Error): void;
}

export interface UpstreamOptions {
  brokerId: string;
  host: string;
  port: number;
  /** TLS to an `mqtts://` broker, verified against its CA. */
  tls?: BrokerTls | undefined;
  protocolVersion: 4 | 5;
  connect: Omit<IConnectPacket, 'cmd' | 'protocolVersion' | 'protocolId' | 'keepalive'>;
  keepaliveSeconds: number;
  connectTimeoutMs: number;
  maxPacketBytes: number;
  /** Publishes in flight towards a broker that does not say its receive maximum (3.1.1: QoS 2 ones). */
  defaultReceiveMaximum: number;
  /**
   * QoS 1 and 2 publishes in flight towards a 3.1.1 broker, of which at most defaultReceiveMaximum at
   * QoS 2 (only QoS 2 is what Mosquitto drops past its limit; RabbitMQ 3.10 has no QoS 2 at all).
   * Absent: defaultReceiveMaximum for both.
   */
  v4Maximum?: number;
  /**
   * The upstream session outlives its link (a clean session's grace, v5 only) but not the client:
   * every goodbye of ours ends it for good with a Session Expiry Interval of 0.
   */
  graceful?: boolean;
  /** Where this link's relayed PUBACKs wait for others (held-acks.ts); absent: they leave at once. */
  heldAcks?: HeldAcks | undefined;
}

/**
 * One session's MQTT connection to one broker, spoken with mqtt-packet (the orchestrator relays
 * packets, so a full client would be in the way). Packets after the CONNACK (but PINGRESP) go to the
 * consumer given to attach(); those that arrive before it (a persistent session's backlog can come in
 * the same read as the CONNACK) are held for it, none lost. 'down' is reported once, with the reason.
 */
export class Upstream implements FramedHandler, TickMember, AckHolder {
  readonly brokerId: string;
  readonly protocolVersion: 4 | 5;
  private framed: FramedStream | undefined;
  /** The 1-second clock's count at the last PINGREQ (or the CONNACK): pings run on it (ticker.ts). */
  private pingTick = 0;
  private awaitingPong = false;
  private downReason: string | undefined;
  private closing = false;
  private connected = false;
  private sink: UpstreamSink | undefined;
  private backlog: Packet[] = emptyArray();
  private brokerReceiveMaximum: number | undefined;
  /** The last packet the broker sent, and whether the transport failed (RST, error) before the close. */
  private lastCmd: Packet['cmd'] | undefined;
  private transportFailed = false;
  /** open()'s promise and CONNACK timer, until the CONNACK or the failure. */
  private opening:
    | { resolve: (connack: IConnackPacket) => void; reject: (err: Error) => void; timer: AnswerTimeout }
    | undefined;

  /**
   * What the link keeps of its options: the open phase's (the CONNECT with its will, TLS, timeouts) is
   * dropped once open() used it, so an open link holds no copy of its CONNECT (~150 B per link).
   */
  private readonly host: string;
  private readonly port: number;
  private readonly keepaliveSeconds: number;
  private readonly defaultReceiveMaximum: number;
  private readonly v4Maximum: number | undefined;
  private readonly graceful: boolean;
  private readonly heldAcks: HeldAcks | undefined;
  /** Packet ids of the PUBACKs held (sendPuback), in the order they came. */
  private held: number[] = emptyArray();
  /** Made at the first hold's end: whether the broker waits for what the link holds (held-acks.ts). */
  private holdGuard: HoldGuard | undefined;
  private toOpen: UpstreamOptions | undefined;

  constructor(options: UpstreamOptions) {
    this.brokerId = options.brokerId;
    this.protocolVersion = options.protocolVersion;
    this.host = options.host;
    this.port = options.port;
    this.keepaliveSeconds = options.keepaliveSeconds;
    this.defaultReceiveMaximum = options.defaultReceiveMaximum;
    this.v4Maximum = options.v4Maximum;
    this.graceful = options.graceful === true;
    this.heldAcks = options.heldAcks?.enabled ? options.heldAcks : undefined;
    this.toOpen = options;
  }

  /**
   * QoS 1/2 publishes the broker accepts unacknowledged: its CONNACK's receive maximum (v5), or the
   * default (a v5 broker that did not say; a 3.1.1 broker: v4Maximum).
   */
  get receiveMaximum(): number {
    if (this.protocolVersion === 4) return this.v4Maximum ?? this.defaultReceiveMaximum;
    return this.brokerReceiveMaximum ?? this.defaultReceiveMaximum;
  }

  /** Of those, QoS 2 ones: the same count (v5), or the default (3.1.1, which cannot say). */
  get qos2Maximum(): number {
    return this.protocolVersion === 4 ? this.defaultReceiveMaximum : this.receiveMaximum;
  }

  get isUp(): boolean {
    return this.connected && this.downReason === undefined;
  }

  /** Opens the connection and resolves the broker's CONNACK (whatever its code). Once per Upstream. */
  open(): Promise<IConnackPacket> {
    const options = this.toOpen;
    if (this.framed || !options)
      return Promise.reject(new Error(`the link to broker ${this.brokerId} was opened already`));
    this.toOpen = undefined;
    const { host, port, protocolVersion, connectTimeoutMs, keepaliveSeconds, connect } = options;
    return new Promise((resolve, reject) => {
      const { socket, ready } = connectBroker(host, port, options.tls, sharedReads);
      const framed = new FramedStream(
        socket,
        // Deliveries: slabs of their own, so a replay window's slabs hold publishes only (kept-frames.ts).
        { protocolVersion, maxPacketBytes: options.maxPacketBytes, frames: deliveryFrames },
        this,
      );
      this.framed = framed;
      // Dropped at the CONNACK (or the failure): nothing of the connect phase stays with the link.
      this.opening = {
        resolve,
        reject,
        timer: new AnswerTimeout(connectTimeoutMs, () => {
          socket.destroy();
          this.openFailed(new TimeoutError(`CONNACK from broker ${this.brokerId}`, connectTimeoutMs));
        }),
      };
      socket.once(ready, () => {
        framed.write({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion,
          keepalive: keepaliveSeconds,
          ...connect,
        } as IConnectPacket);
      });
    });
  }

  /** The connect phase failed: open() rejects (once; nothing happens after the CONNACK). */
  private openFailed(err: Error): void {
    const opening = this.opening;
    if (!opening) return;
    this.opening = undefined;
    opening.timer.cancel();
    opening.reject(err);
  }

  private early(reason: string): void {
    this.openFailed(new Error(`broker ${this.brokerId} (${this.host}:${this.port}): ${reason}`));
  }

  // ---- FramedHandler: the broker's connection ----------------------------------------------------

  frameTransportError(err: Error): void {
    this.transportFailed = true;
    this.early(err.message);
  }

  /** A relayed packet that cannot be encoded for this broker (bad data from the client). */
  frameEncodeError(err: Error, packet: Packet): void {
    this.sink?.unencodable(packet, err);
  }

  frameBadInput(err: Error): void {
    this.early(`bad packet: ${err.message}`);
    this.markDown(`bad packet from broker: ${err.message}`);
  }

  frameClosed(): void {
    this.early('closed before CONNACK');
    this.markDown('connection closed');
  }

  framePacket(packet: Packet): void {
    const opening = this.opening;
    if (opening) {
      if (packet.cmd !== 'connack') return this.early(`sent ${packet.cmd} before CONNACK`);
      this.opening = undefined;
      opening.timer.cancel();
      this.brokerReceiveMaximum = packet.properties?.receiveMaximum;
      const code = packet.reasonCode ?? packet.returnCode ?? 0;
      if (code === 0) {
        this.connected = true;
        this.startKeepalive();
      } else this.framed?.end();
      opening.resolve(packet);
      return;
    }
    if (!this.connected) return; // after a refused CONNACK or a failed connect phase
    if (packet.cmd === 'pingresp') {
      this.awaitingPong = false;
      return;
    }
    this.lastCmd = packet.cmd;
    if (this.holdGuard && packet.cmd === 'publish') this.deliveredAfterHold(this.holdGuard);
    if (this.sink) this.sink.packet(packet);
    else {
      this.backlog = writableArray(this.backlog);
      this.backlog.push(packet);
    }
  }

  /** Sets the consumer of packets and of the 'down' report; hands it what arrived before. */
  attach(sink: UpstreamSink): void {
    this.sink = sink;
    for (const p of takeAll(this.backlog)) sink.packet(p);
    if (this.downReason !== undefined) sink.down(this.downReason);
  }

  private startKeepalive(): void {
    if (this.keepaliveSeconds <= 0) return;
    this.pingTick = everySecond.count;
    everySecond.add(this);
  }

  /** The 1-second clock: a PINGREQ each keepalive period; no PINGRESP by the next one means the broker is gone. */
  tick(_now: number, count: number): void {
    const periodTicks = Math.max(1, Math.round((this.keepaliveSeconds * 1000) / everySecond.periodMs));
    if (count - this.pingTick < periodTicks) return;
    this.pingTick = count;
    if (this.awaitingPong) {
      this.transportFailed = true; // closed by us: not a broker's clean close
      this.markDown(`no PINGRESP within ${this.keepaliveSeconds} s`);
      this.framed?.destroy();
      return;
    }
    this.awaitingPong = true;
    this.framed?.write({ cmd: 'pingreq' });
  }

  private markDown(reason: string): void {
    if (this.downReason !== undefined) return;
    this.downReason = reason;
    everySecond.delete(this);
    this.releaseHeld(); // down: nothing is written, they are forgotten
    this.sink?.down(this.closing ? 'closed by the orchestrator' : reason);
  }

  /**
   * The broker closed the connection cleanly (FIN, no transport error) right after acknowledging a
   * publish: what a 3.1.1 broker does when it refuses one (no reason code to say so); see denied-close.ts.
   */
  get closedAfterAck(): boolean {
    return !this.transportFailed && !this.closing && (this.lastCmd === 'puback' || this.lastCmd === 'pubrec');
  }

  /**
   * The broker closed this connection after accepting it: cleanly (FIN, no transport error), not at
   * our request. A broker alive and well does that to a connection whose session another connection
   * with the same client id took over (Mosquitto 2.0.11 without a DISCONNECT 0x8E), or to a refused publish.
   */
  get closedByBroker(): boolean {
    return this.connected && !this.transportFailed && !this.closing;
  }

  send(packet: Packet): boolean {
    return this.writer()?.write(packet) ?? false;
  }

  /** send({ ...packet, messageId, dup }), without making that object (FramedStream.writePublishAs). */
  sendPublishAs(packet: IPublishPacket, messageId: number, dup: boolean): boolean {
    return this.writer()?.writePublishAs(packet, messageId, dup) ?? false;
  }

  /** The link's stream while it is up, once the PUBACKs it holds are written (they go first); else undefined. */
  private writer(): FramedStream | undefined {
    if (!this.isUp) return undefined;
    if (this.held.length > 0) this.releaseHeld();
    return this.framed;
  }

  /**
   * A success PUBACK for a delivery the client acknowledged: held with others for one write
   * (held-acks.ts), or written now when nothing holds them. False when the link is down.
   */
  sendPuback(messageId: number): boolean {
    const heldAcks = this.heldAcks;
    if (!heldAcks || (this.holdGuard && !this.holdGuard.mayHold(performance.now())))
      return this.send({ cmd: 'puback', messageId, reasonCode: 0 });
    if (!this.isUp) return false;
    this.held = writableArray(this.held);
    this.held.push(messageId);
    heldAcks.heldTotal += 1;
    if (this.held.length >= heldAcks.maxHeld) this.releaseHeld();
    else if (this.held.length === 1) heldAcks.add(this);
    return true;
  }

  /** The hold is over (HeldAcks' timer). */
  holdExpired(): void {
    if (this.held.length === 0) return;
    this.holdGuard ??= new HoldGuard();
    this.holdGuard.holdEnded(performance.now());
    this.releaseHeld();
  }

  /** A delivery on a link that has held PUBACKs: its guard may stop holding (counted for the metrics). */
  private deliveredAfterHold(guard: HoldGuard): void {
    if (guard.delivered(performance.now()) && this.heldAcks) this.heldAcks.stopsTotal += 1;
  }

  /** Writes the PUBACKs held, in order (held-acks.ts); they are dropped if the link is down. */
  releaseHeld(): void {
    const held = this.held;
    const n = held.length;
    if (n === 0) return;
    if (this.isUp)
      for (let i = 0; i < n; i++)
        this.framed?.write({ cmd: 'puback', messageId: held[i] ?? 0, reasonCode: 0 });
    held.splice(0, n); // the link keeps its array: a subscriber's link holds again soon
  }

  get writableNeedDrain(): boolean {
    return this.framed?.writableNeedDrain ?? false;
  }

  /**
   * Calls `listener` once, when the write buffer drains or the link ends, whichever comes first (a
   * link that ends with a full buffer never drains: whoever waited for it would wait for ever). Never
   * synchronously: the caller may be in the middle of parsing a client's read, which a resumed client
   * would parse again.
   */
  onRoom(listener: () => void): void {
    const stream = this.framed?.stream;
    if (!stream || stream.destroyed) {
      process.nextTick(listener);
      return;
    }
    const once = () => {
      stream.off('drain', once);
      stream.off('close', once);
      listener();
    };
    stream.on('drain', once);
    stream.on('close', once);
  }

  pause(): void {
    this.framed?.pause();
  }

  resume(): void {
    this.framed?.resume();
  }

  /**
   * A goodbye: DISCONNECT, so the broker discards the will, unless the client asked for it (0x04):
   * a v5 broker is told so, a 3.1.1 broker is closed abruptly (its way to publish the will).
   */
  disconnect(options: DisconnectOptions = {}): void {
    const { reasonCode } = options;
    // [MQTT-3.14.2-2] allows lowering it to 0: the CONNECT's was the grace, not 0.
    const sessionExpiryInterval = this.graceful ? 0 : options.sessionExpiryInterval;
    if (this.protocolVersion !== 5 && reasonCode === 0x04) return this.drop();
    this.releaseHeld();
    this.closing = true;
    if (this.isUp) {
      const v5 = this.protocolVersion === 5;
      this.framed?.write({
        cmd: 'disconnect',
        ...(v5 && reasonCode !== undefined ? { reasonCode } : {}),
        ...(v5 && sessionExpiryInterval !== undefined ? { properties: { sessionExpiryInterval } } : {}),
      });
    }
    this.framed?.end();
  }

  /** An abrupt close that still delivers what was written: no DISCONNECT, so the will fires too. */
  dropAfterFlush(): void {
    if (this.graceful) return this.disconnect({ reasonCode: 0x04 });
    this.releaseHeld();
    this.closing = true;
    this.framed?.end();
  }

  /**
   * An abrupt close: no DISCONNECT, so the broker publishes the will (the client vanished). A session
   * with a grace would outlive it: it is told instead, with 0x04 (disconnect with will message) and
   * expiry 0, so the will fires and the session ends.
   */
  drop(): void {
    if (this.graceful && this.isUp) return this.disconnect({ reasonCode: 0x04 });
    // What the client acknowledged reaches the broker: written out before the socket goes.
    if (this.held.length > 0) {
      this.releaseHeld();
      this.framed?.flushWrites();
    }
    this.closing = true;
    this.framed?.destroy();
  }
}
