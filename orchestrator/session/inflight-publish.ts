import { Buffer } from 'node:buffer';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import type { IdTable } from '../protocol/id-table.ts';

/** One QoS 1/2 publish of a client, from its PUBLISH to its PUBACK or PUBCOMP. */
export interface InFlight {
  /** An entry is also what its upstream packet id stands for (UpstreamPending): no object per send. */
  readonly kind: 'publish';
  downId: number;
  /** The broker holding it unacknowledged ('' while held or waiting); set only through assign(). */
  brokerId: string;
  upId: number;
  packet: IPublishPacket;
  /** QoS 2: PUBREC sent to the client (a broker owns the message now); waiting for its PUBREL. */
  received: boolean;
  /** QoS 2: the broker it is assigned to (or was, with brokerId '') accepted it (PUBREC, or PUBACK at QoS 1). */
  stored: boolean;
  /** QoS 2: PUBREL forwarded, waiting for the broker's PUBCOMP. */
  released: boolean;
  /** Brokers it was sent to: one that closes on it, again and again, is refusing this message. */
  attempts: number;
  /** Routed to this broker, whose receive maximum is reached: waits (in order) for a free slot. */
  queuedFor?: string;
  /** PUBACK / PUBREC for the client, answered by a broker but behind an earlier publish's (AckOrder). */
  ack: Packet | undefined;
  /** Finished and forgotten (no longer in the in-flight table), maybe with its PUBACK still held. */
  done: boolean;
  /** Retained: its place among the session's retained publishes (retained-order.ts); 0 otherwise. */
  retainSeq: number;
  /** Retained, held by a pool fence while its topic's retained value moves (retained-hold.ts). */
  fenced?: boolean;
  /**
   * When it arrived (performance.now(), ms) if it has an MQTT 5 Message Expiry Interval, to count down
   * the time it waits here (message-expiry.ts); -1 without one.
   */
  arrivedAt: number;
}

/** The payload of a QoS 2 publish that keeps only its ids. */
export const EMPTY = Buffer.alloc(0);

/** The publish flow's in-flight table by the client's packet id, as routing and replays read it. */
export type InFlightTable = Pick<IdTable<InFlight>, 'get' | 'values' | 'forEachInOrder' | 'someBefore'>;

/** Sends of one publish (to brokers that went down on it) before the client is closed instead. */
export const MAX_ATTEMPTS = 4;

/** What happens to a QoS 2 publish PUBREC'd by a broker that then dies (docs/acknowledgements-and-qos.md). */
export type Qos2OnBrokerLoss = 'resend' | 'drop';

/** QoS 2 flows: the choice on broker loss, and the payload bytes kept for 'resend' before it falls back to 'drop'. */
export interface Qos2Options {
  onBrokerLoss: Qos2OnBrokerLoss;
  maxKeptBytes: number;
}
