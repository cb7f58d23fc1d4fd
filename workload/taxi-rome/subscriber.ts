import type { MqttClient } from 'mqtt';
import { type DeliverySummary, DeliveryTracker, mergeDelivery } from './measure.ts';
import { connectMqtt, endMqtt, type Follow, type QoS } from './mqtt-clients.ts';
import { decodeMessage, preciseNow } from './payload.ts';
import type { TaxiRecord } from './record.ts';
import { expectedPerTopic } from './shares.ts';

/**
 * The paper's Algorithm 4: each subscriber connection subscribes once to every taxi topic of its
 * share and accounts for what arrives (loss, duplicates, reordering, latency) in a DeliveryTracker.
 */
export interface SubscribeOptions {
  /** Subscriber i connects to urls[i % urls.length]. */
  urls: readonly string[];
  qos: QoS;
  clientIdPrefix?: string;
  /** Re-resolve the service name here after a plain close (clients given a DNS name). */
  follow?: Follow | undefined;
  /** MQTT 3.1.1 (4, the default) or 5 (which hears a Server Reference when it is moved). */
  protocolVersion?: 4 | 5;
  /** Persistent sessions (clean session 0): what arrives while a client is being moved waits on the brokers. */
  persistent?: boolean;
  /** Topics per SUBSCRIBE packet. Default 100. */
  topicsPerSubscribe?: number;
  /** Per-subscriber hooks (the chaos run's ledger): each message, each connection made and lost. */
  observe?: {
    message(index: number, topic: string, seq: number, at: number): void;
    connected(index: number, at: number): void;
    closed(index: number, at: number): void;
  };
}

export interface WaitOptions {
  /** Give up this long after the call. */
  timeoutMs: number;
  /** Give up when nothing new arrived for this long (after something did). */
  idleMs: number;
  onProgress?: (received: number) => void;
}

const EXPIRY = { properties: { sessionExpiryInterval: 3600 } };

export class Subscribers {
  private readonly clients: MqttClient[] = [];
  private readonly connectedTo: Array<MqttClient | undefined>;
  private movesSeen = 0;

  private constructor(
    private readonly shares: readonly (readonly TaxiRecord[])[],
    private readonly options: SubscribeOptions,
    readonly trackers: DeliveryTracker[],
  ) {
    this.connectedTo = shares.map(() => undefined);
  }

  /** Connects S subscribers, each subscribed to its share's topics (SUBACKed) before this resolves. */
  static async start(
    shares: readonly (readonly TaxiRecord[])[],
    options: SubscribeOptions,
  ): Promise<Subscribers> {
    const subscribers = Subscribers.prepare(shares, options);
    await subscribers.connect(shares.map((_, i) => i));
    return subscribers;
  }

  /**
   * Subscribers with their expectations set and nobody connected yet: `connect` brings some of them up
   * (a scenario connects them in two halves around the publishers, so clients of both kinds arrive in
   * a mixed order, as devices do).
   */
  static prepare(shares: readonly (readonly TaxiRecord[])[], options: SubscribeOptions): Subscribers {
    const trackers = shares.map((share) => {
      const tracker = new DeliveryTracker();
      for (const [topic, count] of expectedPerTopic(share)) tracker.expect(topic, count);
      return tracker;
    });
    return new Subscribers(shares, options, trackers);
  }

  /** Connects and subscribes the subscribers with these indices (closing everything on a failure). */
  async connect(indices: readonly number[]): Promise<void> {
    try {
      await Promise.all(indices.map((i) => this.connectOne(i)));
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  private async connectOne(i: number): Promise<void> {
    const { options } = this;
    const prefix = options.clientIdPrefix ?? `taxi-sub-${process.pid}`;
    const tracker = this.trackers[i] as DeliveryTracker;
    const topics = [...expectedPerTopic(this.shares[i] ?? [])];
    const url = options.urls[i % options.urls.length] as string;
    const follow = options.follow ? { ...options.follow, index: i } : undefined;
    const clean = options.persistent !== true;
    const protocolVersion = options.protocolVersion ?? 4;
    const client = await connectMqtt(
      url,
      // A v5 session outlives its connection only with an expiry (MQTT 5 §3.1.2.11.2).
      {
        clientId: `${prefix}-${i}`,
        clean,
        protocolVersion,
        ...(clean || protocolVersion === 4 ? {} : EXPIRY),
      },
      follow,
    );
    this.clients.push(client);
    this.connectedTo[i] = client;
    let host = client.options.host;
    client.on('connect', () => {
      if (client.options.host !== host) this.movesSeen += 1;
      host = client.options.host;
    });
    const observe = options.observe;
    if (observe) {
      observe.connected(i, Date.now());
      client.on('connect', () => observe.connected(i, Date.now()));
      client.on('close', () => observe.closed(i, Date.now()));
    }
    client.on('message', (topic, payload) => {
      const m = decodeMessage(payload);
      const at = preciseNow();
      if (m) tracker.record(topic, m.seq, m.sentAt, at);
      else tracker.record(topic, -1, 0, at);
      if (m) observe?.message(i, topic, m.seq, at);
    });
    const per = options.topicsPerSubscribe ?? 100;
    for (let k = 0; k < topics.length; k += per) {
      const batch = Object.fromEntries(topics.slice(k, k + per).map(([t]) => [t, { qos: options.qos }]));
      const granted = await client.subscribeAsync(batch);
      const refused = granted.filter((g) => g.qos === 128);
      if (refused.length > 0)
        throw new Error(`subscription refused: ${refused.map((g) => g.topic).join(', ')}`);
    }
  }

  /** The address each subscriber is connected to now (undefined: not connected, or not started). */
  hosts(): Array<string | undefined> {
    return this.connectedTo.map((c) => (c?.connected ? c.options.host : undefined));
  }

  /** Times a subscriber reconnected to another address than before (it was moved). */
  get moves(): number {
    return this.movesSeen;
  }

  get received(): number {
    return this.trackers.reduce((a, t) => a + t.received, 0);
  }

  get expected(): number {
    return this.trackers.reduce((a, t) => a + t.expected, 0);
  }

  /** Resolves true once every expected message arrived, false on timeout or idleness. */
  async waitComplete(options: WaitOptions): Promise<boolean> {
    const deadline = Date.now() + options.timeoutMs;
    let last = this.received;
    let lastChange = Date.now();
    while (this.received < this.expected) {
      const now = Date.now();
      if (now > deadline) return false;
      const received = this.received;
      if (received !== last) {
        last = received;
        lastChange = now;
        options.onProgress?.(received);
      } else if (received > 0 && now - lastChange > options.idleMs) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    options.onProgress?.(this.received);
    return true;
  }

  /** Receive time of the last new message, epoch ms. */
  lastReceiveAt(): number | undefined {
    const times = this.trackers.map((t) => t.lastReceiveAt).filter((t): t is number => t !== undefined);
    return times.length > 0 ? Math.max(...times) : undefined;
  }

  summary(): DeliverySummary {
    return mergeDelivery(this.trackers);
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => endMqtt(c)));
  }
}
