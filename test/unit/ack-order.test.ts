import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Packet } from 'mqtt-packet';
import { AckOrder, type OrderedAck } from '../../orchestrator/session/ack-order.ts';

const puback = (messageId: number): Packet => ({ cmd: 'puback', messageId });

describe('acknowledgement order', () => {
  it('holds an answer that overtakes an earlier publish until the earlier one is answered [MQTT-4.6.0-2]', () => {
    const order = new AckOrder<OrderedAck>();
    const items = [1, 2, 3].map(() => ({ ack: undefined }) as OrderedAck);
    const sent: number[] = [];
    const send = (p: Packet) => sent.push((p as { messageId: number }).messageId);
    for (const item of items) order.push(item);
    order.ready(items[2] as OrderedAck, puback(3), { sendAck: send });
    assert.deepEqual(sent, []);
    order.ready(items[0] as OrderedAck, puback(1), { sendAck: send });
    assert.deepEqual(sent, [1]);
    assert.equal(order.pending, 2);
    order.ready(items[1] as OrderedAck, puback(2), { sendAck: send });
    assert.deepEqual(sent, [1, 2, 3]);
    assert.equal(order.pending, 0);
  });

  it('stays in order across its compaction, over many publishes answered out of order', () => {
    const order = new AckOrder<OrderedAck>();
    const sent: number[] = [];
    const send = (p: Packet) => sent.push((p as { messageId: number }).messageId);
    const items: OrderedAck[] = [];
    for (let i = 0; i < 5000; i++) {
      const item: OrderedAck = { ack: undefined };
      items.push(item);
      order.push(item);
      // Answers come back in pairs, the second publish's first.
      if (i % 2 === 1) {
        order.ready(item, puback(i), { sendAck: send });
        order.ready(items[i - 1] as OrderedAck, puback(i - 1), { sendAck: send });
      }
    }
    assert.equal(sent.length, 5000);
    assert.ok(sent.every((id, i) => id === i));
  });
});
