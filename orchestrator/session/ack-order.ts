import type { Packet } from 'mqtt-packet';
import { emptyArray, writableArray } from './lazy-collections.ts';

/** A publish whose acknowledgement to the client (PUBACK or PUBREC) goes out in arrival order. */
export interface OrderedAck {
  /** The acknowledgement, once a broker answered; undefined before that and once sent. */
  ack: Packet | undefined;
}

/** Where AckOrder sends the acknowledgements that are due. */
export interface AckSink<T> {
  sendAck(packet: Packet, item: T): void;
}

/**
 * Acknowledgements to the client in the order its QoS 1/2 PUBLISHes arrived (pure, no I/O).
 *
 * One broker acknowledges a connection's publishes in order, and clients rely on it: the rules a
 * receiver follows in MQTT §4.6 ([MQTT-4.6.0-2] PUBACK, [MQTT-4.6.0-3] PUBREC in the order of the
 * PUBLISHes), and Debian's `mosquitto_pub -l` waits at the end of its input for the *most recent*
 * PUBACK to be its last message's, so one reordered PUBACK there leaves it waiting forever. Spread
 * over several brokers (and re-sent after one dies), answers come back in any order: an answer that
 * overtakes an earlier publish's waits here until every earlier one is sent.
 */
export class AckOrder<T extends OrderedAck> {
  private items: Array<T | undefined> = emptyArray();
  private head = 0;

  /** Publishes whose acknowledgement has not been sent yet. */
  get pending(): number {
    return this.items.length - this.head;
  }

  /** The publishes whose acknowledgement has not been sent, oldest first. */
  *pendingItems(): Iterable<T> {
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i];
      if (item !== undefined) yield item;
    }
  }

  /** A QoS 1/2 PUBLISH arrived from the client: its acknowledgement comes after every earlier one. */
  push(item: T): void {
    this.items = writableArray(this.items);
    this.items.push(item);
  }

  /**
   * A broker answered for `item`: sends (through `sink.sendAck`) every acknowledgement now in order. A
   * sink object, not a callback: the session's flow is the sink, with no closure per session.
   */
  ready(item: T, ack: Packet, sink: AckSink<T>): void {
    item.ack = ack;
    while (this.head < this.items.length) {
      const first = this.items[this.head];
      if (first?.ack === undefined) break;
      const packet = first.ack;
      first.ack = undefined;
      this.items[this.head] = undefined;
      this.head += 1;
      sink.sendAck(packet, first);
    }
    if (this.head === this.items.length) {
      if (this.head > 0) this.items.length = 0; // kept: a client that publishes once will again
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
