// The load generator's MQTT clients (3.1.1, or 5 with a property block on every publish): raw sockets
// (TCP_NODELAY), mqtt-packet's parser for what arrives, and publishes written from pre-encoded templates
// (only the send time, sequence and packet id are patched), several per write. Cheaper per message than
// MQTT.js, so the generator keeps up longer.
import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket, { type IPublishPacket, type ISubackPacket, type Packet } from 'mqtt-packet';

export interface Target {
  host: string;
  port: number;
}

/** Wall-clock milliseconds with sub-microsecond resolution, comparable across processes of one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Payload layout: [0,8) send time (float64 ms), [8,10) publisher index, [10,14) sequence, then text. */
export const PAYLOAD_HEADER_BYTES = 14;

/** The taxi-like text that fills a payload after its binary header (a position report). */
function taxiText(publisher: number, bytes: number): Buffer {
  const text = `{"taxi":"car${String(publisher).padStart(4, '0')}","lat":41.15794,"lon":-8.62911,"kmh":42,"st":"hired"}`;
  return Buffer.from(text.padEnd(bytes, ' ').slice(0, bytes));
}

/** Protocol level of the load's clients. */
export type BenchProtocol = 4 | 5;

/** What a v5 publish of the load carries: a realistic IoT message's properties. */
export const V5_PUBLISH_PROPERTIES = {
  contentType: 'application/json',
  messageExpiryInterval: 3600,
  userProperties: { fleet: 'roma', unit: 'kmh' },
};

/**
 * The load's topics: `<root>/<subscriber>/car<publisher>`, one filter per subscriber. Two load
 * generators on the same brokers at once take different roots, or each one's subscribers get the
 * other's messages too (counted as its own deliveries).
 */
export function subscriberTopic(subscriber: number, root = 'taxi'): string {
  return `${root}/${String(subscriber).padStart(3, '0')}/#`;
}

function publishTopic(subscriber: number, publisher: number, root: string): string {
  return `${root}/${String(subscriber).padStart(3, '0')}/car${String(publisher).padStart(4, '0')}`;
}

/** One MQTT connection: CONNECT/CONNACK, request/response waits, a clean DISCONNECT. */
class BenchClient {
  readonly socket: Socket;
  /** Why the connection failed (closed, errored, bad packet); undefined while healthy. */
  failure: string | undefined;
  protected readonly parser: ReturnType<typeof mqttPacket.parser>;
  private waiter: { cmd: string; resolve: (p: Packet) => void; reject: (err: Error) => void } | undefined;
  private ending = false;
  private readonly closed: Promise<void>;

  constructor(
    target: Target,
    readonly clientId: string,
    readonly protocol: BenchProtocol,
  ) {
    this.parser = mqttPacket.parser({ protocolVersion: protocol });
    this.socket = netConnect({ host: target.host, port: target.port, noDelay: true });
    this.parser.on('packet', (p: Packet) => this.onPacket(p));
    this.parser.on('error', (err: Error) => this.fail(`bad packet: ${err.message}`));
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(err.message));
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        this.fail('connection closed');
        resolve();
      }),
    );
  }

  protected onData(chunk: Buffer): void {
    this.parser.parse(chunk);
  }

  protected onPacket(packet: Packet): void {
    if (this.waiter && packet.cmd === this.waiter.cmd) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(packet);
    }
  }

  private fail(reason: string): void {
    if (this.ending || this.failure !== undefined) return;
    this.failure = reason;
    this.waiter?.reject(new Error(`${this.clientId}: ${reason}`));
    this.waiter = undefined;
  }

  /** Writes `packet` and resolves the next packet of kind `cmd`; rejects after timeoutMs. */
  protected request(packet: Packet, cmd: string, timeoutMs: number): Promise<Packet> {
    return new Promise<Packet>((resolve, reject) => {
      if (this.failure !== undefined) return reject(new Error(`${this.clientId}: ${this.failure}`));
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`${this.clientId}: no ${cmd.toUpperCase()} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        cmd,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.socket.write(mqttPacket.generate(packet, { protocolVersion: this.protocol }));
    });
  }

  async connect(timeoutMs: number): Promise<void> {
    // Keepalive 60 s: a configuration's connections live well under that (1.5 × keepalive is the limit).
    const connack = await this.request(
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: this.protocol,
        clean: true,
        clientId: this.clientId,
        keepalive: 60,
      },
      'connack',
      timeoutMs,
    );
    const { returnCode, reasonCode } = connack as { returnCode?: number; reasonCode?: number };
    const code = returnCode ?? reasonCode ?? 0;
    if (code !== 0) throw new Error(`${this.clientId}: CONNACK code ${code}`);
  }

  /** DISCONNECT and close; destroys the socket if it has not closed within timeoutMs. */
  async close(timeoutMs: number): Promise<void> {
    this.ending = true;
    if (!this.socket.destroyed)
      this.socket.end(mqttPacket.generate({ cmd: 'disconnect' }, { protocolVersion: this.protocol }));
    const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
    await this.closed;
    clearTimeout(timer);
  }
}

export interface DeliverySink {
  /** A message from publisher `publisher` arrived `latencyMs` after it was sent. */
  delivered(publisher: number, latencyMs: number): void;
}

/** Subscribes to its own topic range (`taxi/<i>/#`), so each message has exactly one subscriber. */
export class Subscriber extends BenchClient {
  private arrivedAt = 0;
  private readonly acks: number[] = [];

  constructor(
    target: Target,
    clientId: string,
    readonly index: number,
    private readonly sink: DeliverySink,
    protocol: BenchProtocol = 4,
    private readonly topicRoot = 'taxi',
  ) {
    super(target, clientId, protocol);
  }

  async subscribe(qos: 0 | 1, timeoutMs: number): Promise<void> {
    const suback = (await this.request(
      {
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [{ topic: subscriberTopic(this.index, this.topicRoot), qos }],
      },
      'suback',
      timeoutMs,
    )) as ISubackPacket;
    const granted = suback.granted[0];
    if (granted !== qos) throw new Error(`${this.clientId}: SUBACK granted ${String(granted)}, asked ${qos}`);
  }

  protected override onData(chunk: Buffer): void {
    // One clock reading per read: the packets of a chunk all arrived by then.
    this.arrivedAt = nowMs();
    this.parser.parse(chunk);
    if (this.acks.length > 0) {
      // PUBACKs for the whole read in one write (4 bytes each: 0x40, 2, id; at v5 too, reason code 0).
      const out = Buffer.allocUnsafe(this.acks.length * 4);
      for (let i = 0; i < this.acks.length; i++) {
        out[i * 4] = 0x40;
        out[i * 4 + 1] = 2;
        out.writeUInt16BE(this.acks[i] ?? 0, i * 4 + 2);
      }
      this.acks.length = 0;
      this.socket.write(out);
    }
  }

  protected override onPacket(packet: Packet): void {
    if (packet.cmd !== 'publish') return super.onPacket(packet);
    const p = packet as IPublishPacket;
    const payload = p.payload as Buffer;
    this.sink.delivered(payload.readUInt16LE(8), this.arrivedAt - payload.readDoubleLE(0));
    if (p.qos > 0) this.acks.push(p.messageId ?? 0);
  }
}

/** Publishes round-robin over every subscriber's range; counts what was sent, acknowledged, delivered. */
export class Publisher extends BenchClient {
  sent = 0;
  acked = 0;
  /** Set by the subscribers' sink. */
  delivered = 0;
  /** socket.write returned false: wait for 'drain'. */
  blocked = false;
  private readonly templates: Buffer;
  private readonly packetBytes: number;
  private readonly payloadOffset: number;
  /** Where the packet id sits in a template: after the fixed header and the topic. */
  private readonly idOffset: number;
  private nextId = 1;

  constructor(
    target: Target,
    clientId: string,
    readonly index: number,
    subscribers: number,
    payloadBytes: number,
    readonly qos: 0 | 1,
    onDrain: () => void,
    protocol: BenchProtocol = 4,
    topicRoot = 'taxi',
  ) {
    super(target, clientId, protocol);
    const body = Buffer.alloc(payloadBytes);
    taxiText(index, payloadBytes - PAYLOAD_HEADER_BYTES).copy(body, PAYLOAD_HEADER_BYTES);
    const packets = Array.from({ length: subscribers }, (_, s) =>
      mqttPacket.generate(
        {
          cmd: 'publish',
          topic: publishTopic(s, index, topicRoot),
          payload: body,
          qos,
          retain: false,
          dup: false,
          ...(qos > 0 ? { messageId: 1 } : {}),
          ...(protocol === 5 ? { properties: V5_PUBLISH_PROPERTIES } : {}),
        },
        { protocolVersion: protocol },
      ),
    );
    this.packetBytes = packets[0]?.length ?? 0;
    if (packets.some((p) => p.length !== this.packetBytes))
      throw new Error('publish templates differ in size');
    this.templates = Buffer.concat(packets);
    this.payloadOffset = this.packetBytes - payloadBytes;
    const first = packets[0] ?? Buffer.alloc(4);
    let header = 1;
    while (((first[header] ?? 0) & 0x80) !== 0) header++;
    header += 1;
    this.idOffset = header + 2 + first.readUInt16BE(header);
    this.socket.on('drain', () => {
      this.blocked = false;
      onDrain();
    });
  }

  /** Sent and not yet delivered to a subscriber. */
  get inflight(): number {
    return this.sent - this.delivered;
  }

  /** Sent and not yet acknowledged by the server (QoS 1). */
  get unacked(): number {
    return this.qos === 0 ? 0 : this.sent - this.acked;
  }

  /** Writes `n` publishes in one write, all stamped with `at` (ms). */
  send(n: number, at: number): void {
    if (n <= 0) return;
    const size = this.packetBytes;
    const subscribers = this.templates.length / size;
    const out = Buffer.allocUnsafe(n * size);
    for (let i = 0; i < n; i++) {
      const seq = this.sent + i;
      const base = i * size;
      const t = (this.index + seq) % subscribers;
      this.templates.copy(out, base, t * size, (t + 1) * size);
      const payload = base + this.payloadOffset;
      out.writeDoubleLE(at, payload);
      out.writeUInt16LE(this.index, payload + 8);
      out.writeUInt32LE(seq >>> 0, payload + 10);
      if (this.qos > 0) {
        out.writeUInt16BE(this.nextId, base + this.idOffset);
        this.nextId = this.nextId === 65_535 ? 1 : this.nextId + 1;
      }
    }
    this.sent += n;
    if (!this.socket.write(out)) this.blocked = true;
  }

  protected override onPacket(packet: Packet): void {
    if (packet.cmd === 'puback') this.acked += 1;
    else super.onPacket(packet);
  }
}
