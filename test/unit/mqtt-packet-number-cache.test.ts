// test-process: own
// Its own process (scripts/run-tests.sh): it asserts mqtt-packet's module-wide number cache is empty,
// which another file in a shared process can have filled by generating through mqtt-packet directly.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import mqttPacket, { type ISubackPacket } from 'mqtt-packet';
import { FramedStream } from '../../orchestrator/protocol/framed-stream.ts';
import { framedHandler } from '../helpers/framed-handler.ts';

// mqtt-packet's own module state: the cache its first generate() fills unless told not to.
const numbers = createRequire(import.meta.url)('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> };

describe('mqtt-packet number cache (common/mqtt-packet.ts)', () => {
  it('an orchestrator stream generating slow-path packets builds no 65,536-Buffer cache, and its bytes are what mqtt-packet generates', async () => {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    const framed = new FramedStream(stream, { protocolVersion: 5, maxPacketBytes: 1 << 20 }, framedHandler());
    stream.on('data', (c: Buffer) => chunks.push(c));
    const suback: ISubackPacket = {
      cmd: 'suback',
      messageId: 4242,
      granted: [0, 1, 2],
      properties: { reasonString: 'fine' },
    };
    framed.write(suback);
    await new Promise((r) => setImmediate(r));
    const expected = Buffer.from(mqttPacket.generate(suback, { protocolVersion: 5 }));
    assert.deepEqual(Buffer.concat(chunks), expected);
    assert.equal(mqttPacket.writeToStream.cacheNumbers, false);
    assert.equal(Object.keys(numbers.cache).length, 0, 'mqtt-packet built its number cache');
  });
});
