import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { readFastPacket, TopicCache } from '../../orchestrator/protocol/raw-frame.ts';
import { packetProblem } from '../../orchestrator/protocol/validate-packet.ts';

describe('client packet checks', () => {
  it('[MQTT-3.3.4-6] refuses a client PUBLISH with a subscription identifier (0x82), on either road', () => {
    const frame = mqttPacket.generate(
      {
        cmd: 'publish',
        topic: 't',
        payload: Buffer.from('x'),
        qos: 1,
        messageId: 3,
        retain: false,
        dup: false,
        properties: { subscriptionIdentifier: 7 },
      },
      { protocolVersion: 5 },
    );
    // Both roads read it into the packet (a broker's deliveries carry them) ...
    const fast = readFastPacket(frame, 0, frame.length, 5, new TopicCache());
    const packets: Packet[] = [];
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    parser.on('packet', (p: Packet) => packets.push(p));
    parser.parse(frame);
    const [packet] = packets;
    // ... and the session's check refuses it from a client, on either.
    for (const read of [fast, packet]) {
      assert.ok(read);
      assert.deepEqual(packetProblem(read), {
        reason: 'PUBLISH from a client with a subscription identifier',
        code: 0x82,
      });
    }
  });
});
