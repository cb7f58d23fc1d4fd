// A v5 PUBLISH's property block on the raw-frame fast path: what generate() cannot write (User
// Properties interleaved with others, a name repeated apart) is forwarded in the sender's order, as
// [MQTT-3.3.2-18] asks; a packet whose properties a flow replaced is generated; binary values do not
// point into the read buffer. The differential test (raw-frame-differential.test.ts) covers the rest.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { readFastPacket, TopicCache } from '../../orchestrator/protocol/raw-frame.ts';
import { fastEncode, unaliased } from '../../orchestrator/protocol/raw-write.ts';
import { packetProblem } from '../../orchestrator/protocol/validate-packet.ts';

const str = (s: string): number[] => [
  ...[Buffer.byteLength(s) >> 8, Buffer.byteLength(s) & 0xff],
  ...Buffer.from(s),
];

/** A v5 QoS 1 PUBLISH to `t` (packet id 7) with this property block and payload "hi". */
function frameWith(properties: number[]): Buffer {
  const body = [...str('t'), 0, 7, properties.length, ...properties, ...Buffer.from('hi')];
  return Buffer.from([0x32, body.length, ...body]);
}

// User Property a=1, Content Type, User Property b=2, User Property a=3.
const INTERLEAVED = [
  [0x26, ...str('a'), ...str('1')],
  [0x03, ...str('text')],
  [0x26, ...str('b'), ...str('2')],
  [0x26, ...str('a'), ...str('3')],
].flat();

function parsed(frame: Buffer, version: 4 | 5): Packet {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const out: Packet[] = [];
  parser.on('packet', (p: Packet) => out.push(p));
  parser.on('error', (err: Error) => assert.fail(err.message));
  parser.parse(frame);
  assert.equal(out.length, 1);
  return out[0] as Packet;
}

describe('v5 PUBLISH properties on the fast path', () => {
  it("keeps the sender's order of User Properties, which generate() would regroup", () => {
    const frame = frameWith(INTERLEAVED);
    const fast = readFastPacket(frame, 0, frame.length, 5, new TopicCache());
    assert.ok(fast, 'read on the fast path');
    const { raw: _raw, ...fields } = fast as Packet & { raw: unknown };
    assert.deepEqual(fields, { ...parsed(frame, 5) }, "mqtt-packet's packet");
    const mine = fastEncode({ ...fast, messageId: 300 } as Packet, 5);
    const expected = Buffer.from(frame);
    expected.writeUInt16BE(300, 5);
    assert.equal(mine?.toString('hex'), expected.toString('hex'), 'the frame, only the packet id patched');
    const theirs = mqttPacket.generate({ ...fast, messageId: 300 } as Packet, { protocolVersion: 5 });
    assert.notEqual(theirs.toString('hex'), expected.toString('hex'), 'generate() regroups them');
    assert.deepEqual(parsed(mine as Buffer, 5), parsed(theirs, 5));
    // A 3.1.1 peer: no property block, as generate() writes it.
    const v4 = fastEncode({ ...fast, messageId: 300 } as Packet, 4);
    assert.equal(
      v4?.toString('hex'),
      mqttPacket.generate({ ...fast, messageId: 300 } as Packet, { protocolVersion: 4 }).toString('hex'),
    );
  });

  it('generates a packet whose properties a flow replaced or removed', () => {
    const frame = frameWith([0x02, 0, 0, 0, 60, 0x26, ...str('k'), ...str('v')]);
    const fast = readFastPacket(frame, 0, frame.length, 5, new TopicCache()) as Packet & {
      properties: Record<string, unknown>;
    };
    assert.deepEqual(fast.properties.messageExpiryInterval, 60);
    assert.ok(fastEncode(fast, 5), 'its own properties: forwarded');
    assert.equal(fastEncode({ ...fast, properties: { ...fast.properties } } as Packet, 5), undefined);
    assert.equal(fastEncode({ ...fast, properties: undefined } as Packet, 5), undefined);
  });

  it('reads Correlation Data from its own copy of the frame, not the read buffer', () => {
    const frame = frameWith([0x09, 0, 3, 1, 2, 3]);
    const read = Buffer.concat([Buffer.from([0xc0, 0]), frame]); // a PINGREQ, then the publish
    const fast = readFastPacket(read, 2, frame.length, 5, new TopicCache()) as Packet & {
      properties: { correlationData: Buffer };
    };
    read.fill(0xee);
    assert.deepEqual([...fast.properties.correlationData], [1, 2, 3]);
    assert.equal((fast as unknown as { payload: Buffer }).payload.toString(), 'hi');
  });

  it("reads a delivery's Subscription Identifiers in order; from a client the session refuses them", () => {
    // Subscription Identifier 1, User Property k=v, Subscription Identifier 300 (two bytes).
    const frame = frameWith([0x0b, 1, 0x26, ...str('k'), ...str('v'), 0x0b, 0xac, 0x02]);
    const fast = readFastPacket(frame, 0, frame.length, 5, new TopicCache());
    assert.ok(fast, 'read on the fast path');
    const { raw: _raw, ...fields } = fast as Packet & { raw: unknown };
    assert.deepEqual(fields, { ...parsed(frame, 5) });
    assert.deepEqual((fields as { properties?: unknown }).properties, {
      subscriptionIdentifier: [1, 300],
      userProperties: Object.assign(Object.create(null), { k: 'v' }),
    });
    assert.equal(fastEncode(fast, 5)?.toString('hex'), frame.toString('hex'), 'as the broker sent it');
    assert.equal(packetProblem(fast)?.code, 0x82, '[MQTT-3.3.4-6]');
  });

  it('forwards an aliased publish as the topic the session resolved, the alias left out', () => {
    // Topic "" with Topic Alias 3 between a User Property and a Content Type.
    const props = [0x26, ...str('k'), ...str('v'), 0x23, 0, 3, 0x03, ...str('text')];
    const body = [...str(''), 0, 7, props.length, ...props, ...Buffer.from('hi')];
    const frame = Buffer.from([0x32, body.length, ...body]);
    const fast = readFastPacket(frame, 0, frame.length, 5, new TopicCache()) as Packet & {
      topic: string;
      properties: Record<string, unknown>;
    };
    assert.equal(fast.properties.topicAlias, 3);
    const resolved = unaliased({ ...fast, messageId: 300 }, 'taxi/é/1');
    const { topicAlias: _drop, ...rest } = fast.properties;
    for (const version of [4, 5] as const) {
      const expected = mqttPacket.generate(
        { ...fast, messageId: 300, topic: 'taxi/é/1', properties: rest } as Packet,
        { protocolVersion: version },
      );
      assert.equal(fastEncode(resolved, version)?.toString('hex'), expected.toString('hex'), `v${version}`);
    }
    // The packet as read still forwards its own frame, alias and all.
    assert.equal(fastEncode({ ...fast, messageId: 7 } as Packet, 5)?.toString('hex'), frame.toString('hex'));
    // An alias alone: an empty property block is left.
    const only = Buffer.from([0x30, 7, ...str(''), 3, 0x23, 0, 1, 0x68]);
    const read = readFastPacket(only, 0, only.length, 5, new TopicCache()) as Packet & { topic: string };
    assert.equal(
      fastEncode(unaliased(read, 'a/b'), 5)?.toString('hex'),
      Buffer.from([0x30, 7, ...str('a/b'), 0, 0x68]).toString('hex'),
    );
  });

  it('leaves unknown ids and what generate() would write otherwise to mqtt-packet', () => {
    for (const block of [
      [0x23, 0, 1, 0x23, 0, 2], // a Topic Alias given twice
      [0x0b, 0x85, 0x00], // a Subscription Identifier not in its minimal encoding
      [0x11, 0, 0, 0, 1], // Session Expiry Interval: not a PUBLISH property
      [0x01, 2], // Payload Format Indicator 2: mqtt-packet would forward 1
      [0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2], // given twice: mqtt-packet makes an array
      // mqtt-packet overwrites a falsy earlier value instead of appending (the differential test's find):
      [0x0b, 0x00, 0x0b, 0xac, 0x02], // Subscription Identifier 0, then 300: it says 300 alone
      [0x26, ...str('a'), ...str(''), 0x26, ...str('a'), ...str('x')], // a='' then a='x': it says a='x'
      [0x1f, ...str('why')], // a Reason String: not a PUBLISH property
    ]) {
      const frame = frameWith(block);
      assert.equal(readFastPacket(frame, 0, frame.length, 5, new TopicCache()), undefined, String(block));
    }
  });

  it('reads an acknowledgement’s Reason String and User Properties as mqtt-packet does; anything else goes there', () => {
    const ack = (type: number, body: number[]) => Buffer.from([type, body.length, ...body]);
    const props = [
      0x1f,
      ...str('gone é'),
      0x26,
      ...str('hop'),
      ...str('a'),
      0x26,
      ...str('hop'),
      ...str('b'),
    ];
    for (const type of [0x40, 0x50, 0x62, 0x70]) {
      const code = type === 0x62 || type === 0x70 ? 0x92 : 0x10;
      const frame = ack(type, [0, 9, code, props.length, ...props]);
      const fast = readFastPacket(frame, 0, frame.length, 5, new TopicCache());
      assert.ok(fast, `type ${type.toString(16)} on the fast path`);
      assert.deepEqual({ ...fast }, { ...parsed(frame, 5) });
      assert.equal((fast as { properties?: { reasonString?: string } }).properties?.reasonString, 'gone é');
    }
    for (const body of [
      [0, 9, 0x10, 5, 0x02, 0, 0, 0, 1], // a Message Expiry Interval: not an acknowledgement's
      [0, 9, 0x10, 8, 0x1f, ...str('a'), 0x1f, ...str('b')], // a Reason String twice
      [0, 9, 0x10, 0, 0xee], // a byte after the block (mqtt-packet ignores it)
      [0, 9, 0x10, 4, 0x1f, 0, 5, 0x61], // a string running past the block
    ]) {
      const frame = ack(0x40, body);
      assert.equal(readFastPacket(frame, 0, frame.length, 5, new TopicCache()), undefined, String(body));
    }
  });
});
