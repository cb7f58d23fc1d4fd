// The raw-frame fast path against mqtt-packet (the full path): on ≥ 100,000 valid, mutated and random
// frames, v4 and v5, the same accept/refuse decision, the same packet, and (packet ids remapped, DUP
// set or not, to a peer of either level) the same forwarded bytes. Plus: frames split at every byte
// boundary, or coalesced into one read, give the same packets in the same order.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { FramedStream } from '../../orchestrator/protocol/framed-stream.ts';
import { nextFrame } from '../../orchestrator/protocol/frames.ts';
import { readFastPacket, TopicCache } from '../../orchestrator/protocol/raw-frame.ts';
import { fastEncode, fastLength, fastWrite, unaliased } from '../../orchestrator/protocol/raw-write.ts';
import { packetProblem } from '../../orchestrator/protocol/validate-packet.ts';
import { topicNameProblem } from '../../orchestrator/session/topic-alias.ts';
import { mutate, paddedPropertyLength, prng, validFrames } from '../helpers/frame-corpus.ts';
import { framedHandler } from '../helpers/framed-handler.ts';

const MAX_PACKET_BYTES = 1024 * 1024;
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed12);

/** What mqtt-packet makes of one whole frame: its packet, or its refusal. */
function slowParse(frame: Buffer, version: 4 | 5): { packet?: Packet; error?: string } {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: Packet[] = [];
  let error: string | undefined;
  parser.on('packet', (p: Packet) => packets.push(p));
  parser.on('error', (e: Error) => {
    error ??= e.message;
  });
  parser.parse(Buffer.from(frame));
  if (error !== undefined) return { error };
  assert.equal(packets.length, 1, 'one whole frame is one packet');
  return { packet: packets[0] };
}

/** The orchestrator's decision on a client packet: the parser's refusal, the session's checks, or accept. */
function decision(result: { packet?: Packet; error?: string }): string {
  if (!result.packet) return `refused by the parser`;
  const problem = packetProblem(result.packet);
  if (problem) return `refused: ${problem.reason}`;
  if (result.packet.cmd === 'publish') {
    const topicProblem = topicNameProblem(result.packet.topic);
    if (topicProblem) return `refused: ${topicProblem}`;
  }
  return 'accepted';
}

const plain = (p: Packet): Record<string, unknown> => {
  const { raw: _raw, ...rest } = p as Packet & { raw?: unknown };
  return rest;
};

interface Tally {
  frames: number;
  fast: number;
  /** Fast-path v5 packets with a property block (PUBLISHes and acknowledgements). */
  withProperties: number;
  /** Of those, acknowledgements (a Reason String, User Properties). */
  acksWithProperties: number;
  slow: number;
  refused: number;
  bytesCompared: number;
  /** Forwarded with User Properties in the sender's order where generate() regroups them. */
  reordered: number;
  /** Aliased publishes forwarded with the alias resolved (inbound-publish.ts), compared. */
  unaliased: number;
}

/** Properties generate() may write in another order than they came: User Properties, several Subscription Identifiers. */
function regroupable(p: Packet): boolean {
  const properties = (p as { properties?: { userProperties?: unknown; subscriptionIdentifier?: unknown } })
    .properties;
  return properties?.userProperties !== undefined || Array.isArray(properties?.subscriptionIdentifier);
}

/** Runs one frame through both paths at one level; asserts they agree. */
function compare(frame: Buffer, version: 4 | 5, topics: TopicCache, rnd: () => number, tally: Tally): void {
  tally.frames += 1;
  const fast = readFastPacket(frame, 0, frame.length, version, topics);
  const slow = slowParse(frame, version);
  const verdict = decision(slow);
  if (verdict !== 'accepted') tally.refused += 1;
  const where = () => `frame ${frame.toString('hex')} at v${version}`;
  if (fast === undefined) {
    tally.slow += 1;
    return;
  }
  tally.fast += 1;
  if ((fast as { properties?: unknown }).properties !== undefined) {
    tally.withProperties += 1;
    if (fast.cmd !== 'publish') tally.acksWithProperties += 1;
  }
  assert.equal(slow.error, undefined, `fast path accepted what mqtt-packet refuses: ${where()}`);
  assert.deepEqual(plain(fast), { ...slow.packet }, `different packet: ${where()}`);
  assert.equal(decision({ packet: fast }), verdict, where());
  // An aliased publish the session accepts but for its topic (it resolves the alias first).
  const alias = (fast as { properties?: { topicAlias?: number } }).properties?.topicAlias;
  if (slow.packet && alias !== undefined && !packetProblem(slow.packet))
    compareUnaliased(fast, slow.packet, rnd, tally, where);
  if (verdict !== 'accepted' || !slow.packet) return;
  // Forwarded bytes: the packet id remapped (as the flows do), DUP either way, to a peer of each level.
  const id = 1 + Math.floor(rnd() * 65_535);
  for (const outVersion of [4, 5] as const) {
    for (const dup of [false, true]) {
      // An acknowledgement is relayed as a new one with its packet id and reason code (the flows drop a
      // Reason String and User Properties: inbound-publish.ts, outbound-delivery.ts).
      const patch: Record<string, unknown> =
        fast.cmd === 'publish'
          ? { messageId: fast.qos > 0 ? id : undefined, dup }
          : { messageId: id, properties: undefined };
      const mine = fastEncode({ ...fast, ...patch } as Packet, outVersion);
      const theirs = mqttPacket.generate({ ...slow.packet, ...patch } as Packet, {
        protocolVersion: outVersion,
      });
      assert.ok(mine, `fast path did not encode ${fast.cmd}: ${where()}`);
      if (!mine.equals(theirs)) {
        // generate() groups User Properties (and Subscription Identifiers) where the first one was; the
        // fast path keeps the sender's order [MQTT-3.3.2-18]. The same properties, the same length.
        assert.ok(regroupable(fast), `forwarded bytes differ: ${where()} → v${outVersion}`);
        assert.equal(mine.length, theirs.length, where());
        assert.deepEqual(slowParse(mine, outVersion), slowParse(theirs, outVersion), where());
        tally.reordered += 1;
      }
      // The same bytes written straight into a batch, at an offset (framed-stream.ts's write path).
      const forwarded = { ...fast, ...patch } as Packet;
      const length = fastLength(forwarded, outVersion);
      assert.equal(length, theirs.length, `fastLength: ${where()} → v${outVersion}`);
      const batch = Buffer.alloc(length + 9, 0xee);
      fastWrite(forwarded, outVersion, batch, 7);
      assert.equal(
        batch.subarray(7, 7 + length).toString('hex'),
        mine.toString('hex'),
        `bytes written into a batch differ: ${where()} → v${outVersion}`,
      );
      assert.deepEqual([...batch.subarray(0, 7), ...batch.subarray(7 + length)], Array(9).fill(0xee));
      tally.bytesCompared += 1;
      if (fast.cmd !== 'publish') break;
    }
  }
}

/**
 * A client's aliased PUBLISH as the session forwards it (inbound-publish.ts): the alias resolved to a
 * topic and left out. The fast path's bytes (its frame, the topic written, the alias's three bytes
 * skipped) against generate() of the same packet, to a peer of each level.
 */
function compareUnaliased(fast: Packet, slow: Packet, rnd: () => number, tally: Tally, where: () => string) {
  const topic = rnd() < 0.5 ? 'resolved/é/topic' : 'r';
  const patch = { messageId: (fast as { qos: number }).qos > 0 ? 1 + Math.floor(rnd() * 65_535) : undefined };
  const mine = unaliased({ ...fast, ...patch } as Packet & { topic: string }, topic);
  const { topicAlias: _drop, ...rest } = (slow as { properties: Record<string, unknown> }).properties;
  for (const outVersion of [4, 5] as const) {
    const theirs = mqttPacket.generate({ ...slow, ...patch, topic, properties: rest } as Packet, {
      protocolVersion: outVersion,
    });
    const bytes = fastEncode(mine as Packet, outVersion);
    assert.ok(bytes, `an unaliased packet is forwarded from its frame: ${where()}`);
    if (!bytes.equals(theirs)) {
      assert.ok(regroupable(fast), `unaliased bytes differ: ${where()} → v${outVersion}`);
      assert.deepEqual(slowParse(bytes, outVersion), slowParse(theirs, outVersion), where());
      tally.reordered += 1;
    }
    tally.unaliased += 1;
  }
}

describe('raw-frame fast path', () => {
  it('agrees with mqtt-packet on 100,000+ valid, mutated and random frames (v4 and v5)', (t) => {
    const rnd = prng(SEED);
    const tally: Tally = {
      frames: 0,
      fast: 0,
      withProperties: 0,
      slow: 0,
      refused: 0,
      bytesCompared: 0,
      reordered: 0,
      unaliased: 0,
      acksWithProperties: 0,
    };
    const topics = new TopicCache();
    const corpus = { 4: validFrames(4), 5: validFrames(5) };
    for (const version of [4, 5] as const)
      for (const f of corpus[version]) compare(f, version, topics, rnd, tally);
    const validFast = tally.fast;
    // The same v5 publishes with a Property Length not in its minimal encoding.
    for (const f of corpus[5]) {
      const padded = paddedPropertyLength(f);
      if (padded) compare(padded, 5, topics, rnd, tally);
    }
    // Mutations of either level's traffic, read at both levels.
    const all = [...corpus[4], ...corpus[5]];
    let unframed = 0;
    while (tally.frames < 100_000) {
      const source = all[Math.floor(rnd() * all.length)] ?? Buffer.alloc(2);
      const candidate = mutate(source, rnd);
      const framed = nextFrame(candidate, 0, MAX_PACKET_BYTES);
      if (framed.kind !== 'frame') {
        unframed += 1; // framing is shared by both paths
        continue;
      }
      const frame = candidate.subarray(0, framed.length);
      for (const version of [4, 5] as const) compare(frame, version, topics, rnd, tally);
    }
    t.diagnostic(
      `seed ${SEED}: ${tally.frames} frames (${unframed} more not framed): ${tally.fast} on the fast path ` +
        `(${validFast} of the valid traffic; ${tally.withProperties} v5 with properties), ${tally.slow} to ` +
        `mqtt-packet, ${tally.refused} refused; ${tally.bytesCompared} forwarded encodings compared ` +
        `(${tally.reordered} with User Properties in the sender's order where generate() regroups them), ` +
        `${tally.unaliased} with a Topic Alias resolved, ${tally.acksWithProperties} acknowledgements with properties`,
    );
    // The fast path must carry the common traffic, and the mutations must reach both roads.
    assert.ok(validFast > 500, `fast path took only ${validFast} valid frames`);
    assert.ok(tally.withProperties > 1_000, `only ${tally.withProperties} v5 frames with properties`);
    assert.ok(tally.unaliased > 500, `only ${tally.unaliased} aliased publishes resolved`);
    assert.ok(
      tally.acksWithProperties > 100,
      `only ${tally.acksWithProperties} acknowledgements with properties`,
    );
    assert.ok(tally.refused > 10_000 && tally.fast > 30_000 && tally.slow > 10_000, JSON.stringify(tally));
  });

  it('forwards the original frame only while the packet still says what it says', () => {
    const frame = mqttPacket.generate(
      {
        cmd: 'publish',
        topic: 't/1',
        payload: Buffer.from('hi'),
        qos: 1,
        messageId: 9,
        retain: false,
        dup: false,
      },
      { protocolVersion: 4 },
    );
    const fast = readFastPacket(frame, 0, frame.length, 4, new TopicCache()) as Packet & { topic: string };
    assert.ok(fast);
    for (const change of [
      { topic: 't/2' },
      { payload: Buffer.from('hi') },
      { qos: 2 },
      { retain: true },
      { properties: {} },
    ])
      assert.equal(fastEncode({ ...fast, ...change } as Packet, 4), undefined, JSON.stringify(change));
    assert.equal(fastEncode({ ...fast, messageId: 70_000 } as Packet, 4), undefined);
  });

  it('gives the same packets, in order, whether frames are split at any byte or coalesced in one read', () => {
    const frames = [
      ...[0, 1, 2].map((qos) =>
        mqttPacket.generate(
          {
            cmd: 'publish',
            topic: `t/${qos}`,
            payload: Buffer.alloc(150, qos),
            qos: qos as 0 | 1 | 2,
            messageId: 5 + qos,
            retain: qos === 2,
            dup: false,
          },
          { protocolVersion: 5 },
        ),
      ),
      mqttPacket.generate(
        { cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'x/#', qos: 1 }] },
        { protocolVersion: 5 },
      ),
      mqttPacket.generate({ cmd: 'puback', messageId: 77, reasonCode: 0x10 }, { protocolVersion: 5 }),
      mqttPacket.generate(
        {
          cmd: 'publish',
          topic: 'p',
          payload: Buffer.from('props'),
          qos: 1,
          messageId: 9,
          retain: false,
          dup: false,
          properties: { userProperties: { k: 'v' } },
        },
        { protocolVersion: 5 },
      ),
      mqttPacket.generate({ cmd: 'pingreq' }, { protocolVersion: 5 }),
      mqttPacket.generate({ cmd: 'pubrel', messageId: 12 }, { protocolVersion: 5 }),
    ];
    const all = Buffer.concat(frames);
    const run = (chunks: Buffer[]): unknown[] => {
      const stream = new PassThrough();
      const seen: unknown[] = [];
      new FramedStream(
        stream,
        { protocolVersion: 5, maxPacketBytes: MAX_PACKET_BYTES },
        framedHandler({
          packet: (p) => seen.push({ ...plain(p) }),
          error: (err) => seen.push(`error ${err.message}`),
        }),
      );
      for (const c of chunks) stream.emit('data', c);
      return seen;
    };
    const whole = run([all]);
    assert.equal(whole.length, frames.length);
    assert.deepEqual(
      whole.map((p) => (p as { cmd: string }).cmd),
      ['publish', 'publish', 'publish', 'subscribe', 'puback', 'publish', 'pingreq', 'pubrel'],
    );
    for (let at = 1; at < all.length; at++)
      assert.deepEqual(run([all.subarray(0, at), all.subarray(at)]), whole, `split at byte ${at}`);
    assert.deepEqual(run([...all].map((b) => Buffer.from([b]))), whole, 'one byte per read');

    // Reads into one shared buffer (the sockets' `onread`), overwritten by the next read: a frame left
    // partial is completed from the next chunk (FramedStream.completeFrame), the rest parsed in place.
    const borrowed = (cuts: number[]): unknown[] => {
      const framed = new FramedStream(
        new PassThrough(),
        { protocolVersion: 5, maxPacketBytes: MAX_PACKET_BYTES },
        framedHandler({
          packet: (p) => seen.push({ ...plain(p) }),
          error: (err) => seen.push(`error ${err.message}`),
        }),
      );
      const seen: unknown[] = [];
      const shared = Buffer.alloc(all.length);
      let from = 0;
      for (const to of [...cuts, all.length]) {
        all.copy(shared, 0, from, to);
        framed.read(shared.subarray(0, to - from), true);
        shared.fill(0xaa); // the next read of any socket lands here
        from = to;
      }
      return seen;
    };
    for (let at = 1; at < all.length; at++) {
      const cuts = [at, Math.min(at + 37, all.length - 1)].filter(
        (c, i, a) => c > 0 && c < all.length && a.indexOf(c) === i,
      );
      assert.deepEqual(borrowed(cuts), whole, `borrowed reads cut at ${cuts}`);
    }
  });
});
