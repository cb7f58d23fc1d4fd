import type { IPublishPacket, Packet } from 'mqtt-packet';
import type { Logger } from '../../common/logger.ts';
import type { PacketIdSpace } from '../protocol/packet-ids.ts';
import type { Upstream } from './upstream.ts';

/** What an id this session allocated on one broker connection is waiting for. */
export type UpstreamPending =
  /** A client's publish: its in-flight entry (inflight-publish.ts), which has both. */
  | { readonly kind: 'publish'; downId: number }
  /** A copy re-sent after its first broker died; nothing downstream waits for it. */
  | { kind: 'republish' }
  | { kind: 'subscribe'; requestId: number }
  | { kind: 'unsubscribe'; requestId: number }
  | { kind: 'replay'; done: (err?: Error) => void };

/** One session's live connection to one broker. */
export interface UpstreamLink {
  brokerId: string;
  upstream: Upstream;
  ids: PacketIdSpace<UpstreamPending>;
  /** Every subscription of the session is in place on this broker. */
  synced: boolean;
}

/** Per-broker counters the session reports (messages in from brokers, out to brokers). */
export interface BrokerCounters {
  published(brokerId: string): void;
  delivered(brokerId: string): void;
  /** A delivery from this broker expired while it waited for its client (message-expiry.ts). */
  expired(brokerId: string): void;
  /** A client's publish expired while it waited here for a broker (message-expiry.ts); it has none. */
  publishExpired(): void;
  /** A QoS 0 publish went to another broker than the strategy's pick, whose write buffer was full. */
  qos0Detoured(): void;
  /** A client stopped being read: every broker it could publish to had a full write buffer. */
  roomPaused(): void;
}

/** What the flows of a session (publish, delivery, subscribe) need from the session. */
export interface SessionContext {
  readonly clientId: string;
  /** The client's protocol level: 4 (3.1.1) or 5. */
  readonly version: 4 | 5;
  readonly log: Logger;
  readonly counters: BrokerCounters;
  sendDown(packet: Packet): boolean;
  /** sendDown({ ...packet, messageId, dup }), without making that object (FramedStream.writePublishAs). */
  sendDownAs(packet: IPublishPacket, messageId: number, dup: boolean): boolean;
  link(brokerId: string): UpstreamLink | undefined;
  /** Links a PUBLISH may be routed to: active, synced, up; in pool order. */
  publishTargets(): UpstreamLink[];
  /**
   * The pool's active brokers, in pool order: a retained publish's owner is computed over them, as the
   * retained fence and the manager's move do (docs/retained-moves.md). Without it: the publish targets'.
   */
  activeBrokers?(): readonly string[];
  /** Links a SUBSCRIBE goes to: joining or active, up. */
  subscribeTargets(): UpstreamLink[];
  /** Every link the session may route to is open (always, but for a lazy session: link-need.ts). */
  readonly linksSettled: boolean;
  /**
   * Whether this publish can be routed with the links the session has; when it cannot, the session
   * starts opening every link (what waits meanwhile goes out once they are open).
   */
  linksFor(packet: IPublishPacket): boolean;
  /** A lazy session opens every link now (it holds a retained publish whose owner may be another broker). */
  openEveryLink(): void;
  /** A QoS 0 publish to route once the links being opened are open; false: none are being opened. */
  deferWhileLinking(packet: IPublishPacket): boolean;
  /** Ends the session for a protocol violation (v5: DISCONNECT with the reason code). */
  protocolError(reason: string, reasonCode: number): void;
  /** Its subscriptions changed (a SUBACK or UNSUBACK went to the client): a persistent one's record follows. */
  subscriptionsChanged?(): void;
  /** Pause/resume reading from the client (inbound backpressure). */
  pauseClient(reason: string): void;
  resumeClient(reason: string): void;
  /** Pause/resume reading from every broker of the session (outbound backpressure). */
  pauseUpstreams(reason: string): void;
  resumeUpstreams(reason: string): void;
}
