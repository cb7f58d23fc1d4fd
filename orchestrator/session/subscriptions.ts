import type { ISubscribePacket, ISubscription, IUnsubscribePacket, Packet } from 'mqtt-packet';
import { mergeGranted, subackForV4 } from '../protocol/reason-codes.ts';
import { isReservedFilter } from '../registry/reserved.ts';
import type { SessionContext, UpstreamLink } from './context.ts';
import { emptyMap, writableMap } from './lazy-collections.ts';
import { topicFilterProblem } from './topic-alias.ts';

/** SUBACK code for a filter in the reserved space: v5 0x87 Not authorized; 3.1.1 0x80 (subackForV4). */
const NOT_AUTHORIZED = 0x87;

interface Pending {
  kind: 'subscribe' | 'unsubscribe';
  downId: number;
  filters: string[];
  subscriptions: ISubscription[];
  /** Brokers still to answer, by broker id → upstream packet id. */
  waiting: Map<string, number>;
  /** Codes per filter, from every broker that answered (and ours for a reserved filter). */
  codes: number[][];
  /** Indexes of the filters sent to the brokers (a reserved filter is answered here). */
  sent: number[];
}

/** A subscription as a broker of a given protocol level takes it (3.1.1: topic and QoS only). */
function forBroker(sub: ISubscription, version: 4 | 5): ISubscription {
  return version === 5 ? sub : { topic: sub.topic, qos: sub.qos };
}

/**
 * SUBSCRIBE / UNSUBSCRIBE fan-out: each goes to every joining and active broker; the client gets one
 * SUBACK / UNSUBACK once all answered, with the lowest granted QoS per filter, or the failure where
 * any broker refused. The session remembers its subscriptions to replay them to a new broker.
 */
export class SubscriptionFanout {
  /**
   * The session's subscriptions, by filter (what a new broker must be given). Allocated on the first
   * one (lazy-collections.ts): most clients only publish.
   */
  private subscribed = emptyMap<string, ISubscription>();

  get active(): ReadonlyMap<string, ISubscription> {
    return this.subscribed;
  }

  /** A subscription the session had before (its registry record), unless it has the filter already. */
  adopt(sub: ISubscription): void {
    if (!this.subscribed.has(sub.topic)) this.remember(sub);
  }

  /** Keeps a subscription (its own Map from the first one on). */
  private remember(sub: ISubscription): void {
    this.subscribed = writableMap(this.subscribed);
    this.subscribed.set(sub.topic, sub);
  }
  /** SUBSCRIBEs and UNSUBSCRIBEs not answered yet; allocated on the first (lazy-collections.ts). */
  private pending = emptyMap<number, Pending>();
  private nextRequest = 1;

  constructor(private readonly ctx: SessionContext) {}

  onSubscribe(packet: ISubscribePacket): void {
    for (const sub of packet.subscriptions) {
      const problem = topicFilterProblem(sub.topic);
      if (problem) return this.ctx.protocolError(problem, 0x8f);
    }
    this.fanOut('subscribe', packet.messageId ?? 0, packet.subscriptions, packet.properties);
  }

  onUnsubscribe(packet: IUnsubscribePacket): void {
    this.fanOut(
      'unsubscribe',
      packet.messageId ?? 0,
      packet.unsubscriptions.map((topic) => ({ topic, qos: 0 as const })),
      packet.properties,
    );
  }

  private fanOut(
    kind: 'subscribe' | 'unsubscribe',
    downId: number,
    subscriptions: ISubscription[],
    properties: ISubscribePacket['properties'],
  ): void {
    const requestId = this.nextRequest++;
    // The session registry's reserved space: no client subscribes there (the brokers never see it).
    const reserved = subscriptions.map((s) => kind === 'subscribe' && isReservedFilter(s.topic));
    const pending: Pending = {
      kind,
      downId,
      filters: subscriptions.map((s) => s.topic),
      subscriptions,
      waiting: new Map(),
      codes: reserved.map((r) => (r ? [NOT_AUTHORIZED] : [])),
      sent: reserved.flatMap((r, i) => (r ? [] : [i])),
    };
    this.pending = writableMap(this.pending);
    this.pending.set(requestId, pending);
    const upstream = pending.sent.flatMap((i) => subscriptions[i] ?? []);
    for (const link of upstream.length > 0 ? this.ctx.subscribeTargets() : []) {
      const upId = link.ids.allocate({ kind, requestId });
      if (upId === undefined) continue;
      pending.waiting.set(link.brokerId, upId);
      const v5 = link.upstream.protocolVersion === 5;
      if (kind === 'subscribe') {
        link.upstream.send({
          cmd: 'subscribe',
          messageId: upId,
          subscriptions: upstream.map((s) => forBroker(s, link.upstream.protocolVersion)),
          ...(v5 && properties ? { properties } : {}),
        });
      } else {
        link.upstream.send({ cmd: 'unsubscribe', messageId: upId, unsubscriptions: pending.filters });
      }
    }
    this.maybeAnswer(requestId);
  }

  /** SUBACK / UNSUBACK from a broker. */
  onBrokerAck(link: UpstreamLink, packet: Packet & { messageId?: number }, requestId: number): void {
    const pending = this.pending.get(requestId);
    if (!pending || pending.waiting.get(link.brokerId) !== packet.messageId) return;
    pending.waiting.delete(link.brokerId);
    link.ids.release(packet.messageId ?? 0);
    const granted = (packet as { granted?: Array<number | object> }).granted;
    // SUBACK codes, and a v5 UNSUBACK's; a 3.1.1 UNSUBACK carries none: success.
    const codes: number[] =
      Array.isArray(granted) && granted.length > 0
        ? granted.map((g) => (typeof g === 'number' ? g : 0x80))
        : pending.sent.map(() => 0);
    pending.sent.forEach((filter, i) => {
      pending.codes[filter]?.push(codes[i] ?? 0x80);
    });
    this.maybeAnswer(requestId);
  }

  /**
   * A link opened while SUBSCRIBE / UNSUBSCRIBE requests were still waiting for the other brokers:
   * its replay (the `active` subscriptions) does not have them yet, so they are sent to it too, and
   * the client's SUBACK waits for its answer as well. Without it the new broker would never get a
   * subscription the client made during the join (issue #13: joins while clients move).
   */
  coverPending(link: UpstreamLink): void {
    for (const [requestId, pending] of this.pending) {
      if (pending.waiting.has(link.brokerId) || pending.sent.length === 0) continue;
      const upId = link.ids.allocate({ kind: pending.kind, requestId });
      if (upId === undefined) continue;
      pending.waiting.set(link.brokerId, upId);
      const filters = pending.sent.flatMap((i) => pending.subscriptions[i] ?? []);
      if (pending.kind === 'subscribe') {
        const version = link.upstream.protocolVersion;
        link.upstream.send({
          cmd: 'subscribe',
          messageId: upId,
          subscriptions: filters.map((sub) => forBroker(sub, version)),
        });
      } else {
        link.upstream.send({ cmd: 'unsubscribe', messageId: upId, unsubscriptions: pending.filters });
      }
    }
  }

  /** A broker went down: stop waiting for its answers. */
  onBrokerDown(brokerId: string): void {
    for (const [requestId, pending] of this.pending) {
      if (pending.waiting.delete(brokerId)) this.maybeAnswer(requestId);
    }
  }

  private maybeAnswer(requestId: number): void {
    const pending = this.pending.get(requestId);
    if (!pending || pending.waiting.size > 0) return;
    this.pending.delete(requestId);
    // No broker answered at all: refuse (0x80) rather than pretend the subscription exists.
    const merged = pending.codes.map((codes) => mergeGranted(codes));
    const v5 = this.ctx.version === 5;
    if (pending.kind === 'subscribe') {
      pending.subscriptions.forEach((sub, i) => {
        if ((merged[i] ?? 0x80) < 0x80) this.remember(sub);
      });
      this.ctx.sendDown({
        cmd: 'suback',
        messageId: pending.downId,
        granted: v5 ? merged : merged.map(subackForV4),
      });
    } else {
      for (const filter of pending.filters) this.subscribed.delete(filter);
      // A 3.1.1 UNSUBACK carries no codes; a v5 one carries one per filter (in mqtt-packet's `granted`).
      const granted = v5 ? merged.map((c) => (c === 0x80 ? 0x11 : c)) : [];
      this.ctx.sendDown({ cmd: 'unsuback', messageId: pending.downId, granted });
    }
    this.ctx.subscriptionsChanged?.();
  }

  /**
   * Removes filters a broker's session of this client may still hold from before the session ended
   * or changed while that broker was out of reach (registry-sync.ts, review finding 5).
   */
  dropStale(link: UpstreamLink, filters: readonly string[]): Promise<void> {
    if (filters.length === 0) return Promise.resolve();
    return this.request(link, { cmd: 'unsubscribe', messageId: 0, unsubscriptions: [...filters] });
  }

  /**
   * Gives a (new or returning) broker every subscription of the session; resolves once it answered
   * (the session routes the SUBACK here through the link's pending id), rejects if the link goes down.
   * 3.1.1 brokers get topic and QoS only. MQTT 5 brokers get Retain Handling 1 (unless the client
   * asked for 2): retained messages are sent only where the subscription is new [MQTT-3.3.1-10], so a
   * replay to a broker that had it already (a resumed session, issue #13) re-sends none of them.
   */
  replay(link: UpstreamLink): Promise<void> {
    const subs = [...this.active.values()];
    if (link.upstream.protocolVersion !== 5) return this.resubscribe(link, subs);
    return this.resubscribe(
      link,
      subs.map((s) => (s.rh === 2 || s.rh === 1 ? s : { ...s, rh: 1 })),
    );
  }

  /**
   * A broker resumed this session's upstream session (session present 1 after a lost link): it has
   * the subscriptions of `before` (those when the link was lost); it gets what changed since, the
   * dropped filters unsubscribed, the added or changed ones subscribed. Unknown `before`: replay.
   */
  async restore(link: UpstreamLink, before: ReadonlyMap<string, ISubscription> | undefined): Promise<void> {
    if (!before) return this.replay(link);
    const dropped = [...before.keys()].filter((filter) => !this.active.has(filter));
    const changed = [...this.active.values()].filter((sub) => before.get(sub.topic) !== sub);
    if (dropped.length > 0)
      await this.request(link, { cmd: 'unsubscribe', messageId: 0, unsubscriptions: dropped });
    await this.resubscribe(link, changed);
  }

  private resubscribe(link: UpstreamLink, subs: ISubscription[]): Promise<void> {
    if (subs.length === 0) return Promise.resolve();
    const version = link.upstream.protocolVersion;
    const packet: ISubscribePacket = {
      cmd: 'subscribe',
      messageId: 0,
      subscriptions: subs.map((s) => forBroker(s, version)),
    };
    return this.request(link, packet);
  }

  /** Sends a SUBSCRIBE / UNSUBSCRIBE of our own; resolves on its answer (routed back as a 'replay'). */
  private request(link: UpstreamLink, packet: ISubscribePacket | IUnsubscribePacket): Promise<void> {
    return new Promise((resolve, reject) => {
      const upId = link.ids.allocate({ kind: 'replay', done: (err) => (err ? reject(err) : resolve()) });
      if (upId === undefined) return reject(new Error('no packet id left for the replay'));
      link.upstream.send({ ...packet, messageId: upId });
    });
  }
}
