import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IConnectPacket } from 'mqtt-packet';
import { parseBrokerUrl } from '../../common/admin/contract.ts';
import { rendezvousOwner } from '../../common/retained-owner.ts';
import { nextFrame } from '../../orchestrator/protocol/frames.ts';
import { PacketIdSpace } from '../../orchestrator/protocol/packet-ids.ts';
import {
  connackV4toV5,
  connackV5toV4,
  mergeGranted,
  subackForV4,
} from '../../orchestrator/protocol/reason-codes.ts';
import { homeBrokerRanking, ROUTING_STRATEGIES, Router } from '../../orchestrator/routing/strategies.ts';
import { clientConnack, upstreamConnect, validateConnect } from '../../orchestrator/session/connect-steps.ts';
import {
  TopicAliases,
  topicFilterProblem,
  topicNameProblem,
} from '../../orchestrator/session/topic-alias.ts';

const BROKERS = ['127.42.0.1:1883', '127.42.0.2:1883', '127.42.0.3:1883'];

describe('rendezvous hashing', () => {
  it('is deterministic and spreads keys', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const owner = rendezvousOwner(`taxi/${i}`, BROKERS) ?? '';
      assert.equal(owner, rendezvousOwner(`taxi/${i}`, [...BROKERS].reverse()));
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    for (const b of BROKERS) assert.ok((counts.get(b) ?? 0) > 800, `${b}: ${counts.get(b)}`);
  });
  it('moves only the keys of a broker that leaves', () => {
    let moved = 0;
    for (let i = 0; i < 3000; i++) {
      const before = rendezvousOwner(`k${i}`, BROKERS);
      const after = rendezvousOwner(`k${i}`, BROKERS.slice(0, 2));
      if (before !== after) {
        moved += 1;
        assert.equal(before, BROKERS[2]);
      }
    }
    assert.ok(moved > 800);
  });
  it('has no owner without candidates', () => assert.equal(rendezvousOwner('x', []), undefined));
});

describe('routing strategies', () => {
  const req = (topic: string, clientId = 'c1', retain = false) => ({
    clientId,
    topic,
    retain,
    candidates: BROKERS,
  });
  it('round-robin cycles over the candidates', () => {
    const r = new Router('round-robin');
    assert.deepEqual(
      [0, 1, 2, 3].map(() => r.route(req('t'))),
      [...BROKERS, BROKERS[0]],
    );
  });
  it('least-outstanding picks the broker holding fewest, ties in round-robin order', () => {
    const r = new Router('least-outstanding');
    const held = new Map<string, number>();
    const route = () => r.route({ ...req('t'), outstanding: (id: string) => held.get(id) ?? 0 }) as string;
    // Nothing outstanding: exactly round-robin (a QoS 0-only session).
    assert.deepEqual([0, 1, 2, 3].map(route), [...BROKERS, BROKERS[0]]);
    // A broker that never acknowledges gets one publish, then none while the others acknowledge.
    const [slow, a, b] = BROKERS as [string, string, string];
    held.set(slow, 1);
    const picks = Array.from({ length: 30 }, route);
    assert.equal(picks.filter((x) => x === slow).length, 0);
    assert.equal(picks.filter((x) => x === a).length, 15);
    // Shares follow the counts: the least loaded wins wherever the scan starts.
    held.set(slow, 5).set(a, 3).set(b, 4);
    for (let i = 0; i < 6; i++) assert.equal(route(), a);
  });
  it('least-outstanding scans from after its previous pick and stops at an idle broker', () => {
    const r = new Router('least-outstanding');
    const looked: number[] = [];
    const load = [2, 0, 1];
    const look = (i: number) => {
      looked.push(i);
      return load[i] ?? 0;
    };
    assert.equal(r.leastOutstanding(3, look), 1);
    assert.deepEqual(looked, [0, 1], 'stops at the first idle one');
    looked.length = 0;
    assert.equal(r.leastOutstanding(3, look), 1);
    assert.deepEqual(looked, [2, 0, 1], 'starts after the previous pick');
  });
  it('client-affinity keeps one client on one broker; topic-affinity one topic', () => {
    const c = new Router('client-affinity');
    const t = new Router('topic-affinity');
    assert.equal(new Set(['a', 'b', 'c', 'd'].map((topic) => c.route(req(topic)))).size, 1);
    assert.equal(new Set(['c1', 'c2', 'c3', 'c4'].map((id) => t.route(req('taxi/7', id)))).size, 1);
  });
  it('sends retained publishes to the topic owner whatever the strategy', () => {
    const owner = rendezvousOwner('topic:state/1', BROKERS);
    for (const name of ROUTING_STRATEGIES) {
      const r = new Router(name);
      for (let i = 0; i < 5; i++) assert.equal(r.route(req('state/1', `c${i}`, true)), owner);
    }
  });
  it('has nowhere to go without candidates', () => {
    assert.equal(
      new Router('round-robin').route({ clientId: 'c', topic: 't', retain: false, candidates: [] }),
      undefined,
    );
  });
  it('ranks home brokers, the first being the rendezvous owner', () => {
    const ranking = homeBrokerRanking('taxi-156', BROKERS);
    assert.equal(ranking.length, 3);
    assert.equal(new Set(ranking).size, 3);
    assert.equal(ranking[0], rendezvousOwner('client:taxi-156', BROKERS));
  });
});

describe('packet id space', () => {
  it('allocates non-zero unused ids and reuses released ones [MQTT-2.3.1-1]', () => {
    const ids = new PacketIdSpace<string>();
    const a = ids.allocate('a');
    const b = ids.allocate('b');
    assert.equal(a, 1);
    assert.equal(b, 2);
    assert.equal(ids.release(1), 'a');
    assert.equal(ids.get(2), 'b');
    assert.equal(ids.size, 1);
  });
  it('runs out after 65535 ids in use', () => {
    const ids = new PacketIdSpace<number>();
    for (let i = 0; i < 65_535; i++) assert.notEqual(ids.allocate(i), undefined);
    assert.equal(ids.allocate(0), undefined);
    ids.release(40_000);
    assert.equal(ids.allocate(1), 40_000);
  });
});

describe('reason codes', () => {
  const table: Array<[number, number]> = [
    [0, 0x00],
    [1, 0x84],
    [2, 0x85],
    [3, 0x88],
    [4, 0x86],
    [5, 0x87],
  ];
  for (const [v4, v5] of table) {
    it(`maps CONNACK ${v4} ↔ 0x${v5.toString(16)}`, () => {
      assert.equal(connackV4toV5(v4), v5);
      assert.equal(connackV5toV4(v5), v4);
    });
  }
  it('merges SUBACKs: the lowest grant, or the refusal', () => {
    assert.equal(mergeGranted([2, 1, 2]), 1);
    assert.equal(mergeGranted([1, 0x80, 1]), 0x80);
    assert.equal(mergeGranted([1, 0x87]), 0x87);
    assert.equal(mergeGranted([]), 0x80);
    assert.equal(subackForV4(0x87), 0x80);
    assert.equal(subackForV4(1), 1);
  });
});

describe('framing', () => {
  const cases: Array<[string, number[], number, ReturnType<typeof nextFrame>]> = [
    ['PINGREQ', [0xc0, 0x00], 100, { kind: 'frame', length: 2 }],
    ['one-byte length', [0x30, 0x03, 0, 1, 0x41], 100, { kind: 'frame', length: 5 }],
    ['partial header', [0x30], 100, { kind: 'partial' }],
    ['partial body', [0x30, 0x05, 0, 1], 100, { kind: 'partial' }],
    ['two-byte length', [0x30, 0x80, 0x01], 1000, { kind: 'partial' }],
    ['too large from the header', [0x30, 0xff, 0xff, 0x7f], 1000, { kind: 'too-large', length: 2_097_155 }],
    [
      'five-byte length',
      [0x30, 0xff, 0xff, 0xff, 0xff, 0x01],
      1 << 30,
      { kind: 'malformed', reason: 'remaining length longer than 4 bytes' },
    ],
  ];
  for (const [name, bytes, max, expected] of cases) {
    it(`frames ${name}`, () => assert.deepEqual(nextFrame(Buffer.from(bytes), 0, max), expected));
  }
  it('never throws on random input', () => {
    let seed = 7;
    const next = (): number => {
      seed = (seed * 48271) % 2147483647;
      return seed;
    };
    for (let i = 0; i < 10_000; i++) {
      const len = next() % 12;
      const bytes = Buffer.alloc(len);
      for (let j = 0; j < len; j++) bytes[j] = next() % 256;
      const r = nextFrame(bytes, 0, 4096);
      if (r.kind === 'frame') assert.ok(r.length <= len);
    }
  });
});

describe('topics', () => {
  it('resolves v5 topic aliases and refuses bad ones', () => {
    const aliases = new TopicAliases(4);
    assert.equal(aliases.resolve('taxi/1', 1), 'taxi/1');
    assert.equal(aliases.resolve('', 1), 'taxi/1');
    assert.equal(aliases.resolve('taxi/2', undefined), 'taxi/2');
    assert.deepEqual(aliases.resolve('', 2), { error: 'topic alias 2 was never set' });
    assert.deepEqual(aliases.resolve('x', 0), { error: 'topic alias 0 outside 1..4' });
    assert.deepEqual(aliases.resolve('x', 5), { error: 'topic alias 5 outside 1..4' });
  });
  const names: Array<[string, boolean]> = [
    ['taxi/1', true],
    ['taxi/+', false],
    ['taxi/#', false],
    ['', false],
    ['a\u0000b', false],
    ['bad\ufffd', false],
    ['del\u007fchar', false],
    ['bell\u0007', false],
    ['/leading/slash', true],
  ];
  for (const [topic, ok] of names) {
    it(`topic name ${JSON.stringify(topic)} is ${ok ? 'valid' : 'refused'} [MQTT-3.3.2-2]`, () =>
      assert.equal(topicNameProblem(topic) === undefined, ok));
  }
  it('topic names: the one-pass check says what the checks one by one say, for every char code', () => {
    // The checks as they were before the one-pass scan (session 34), one by one, as the reference.
    const reference = (topic: string): string | undefined => {
      if (topic.length === 0) return 'empty topic name';
      if (topic.includes('+') || topic.includes('#')) return 'wildcard in a topic name';
      if (topic.includes('\u0000')) return 'NUL in a topic name';
      if (topic.includes('\ufffd')) return 'ill-formed UTF-8 in a topic name';
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
      if (/[\u0001-\u001f\u007f-\u009f]/.test(topic)) return 'control character in a topic name';
      return undefined;
    };
    let refused = 0;
    for (let code = 0; code <= 0xffff; code++) {
      const ch = String.fromCharCode(code);
      for (const topic of [ch, `a/${ch}`, `${ch}/b`, `a${ch}b\u0007#`]) {
        const expected = reference(topic);
        assert.equal(
          topicNameProblem(topic),
          expected,
          `char code ${code.toString(16)} in ${JSON.stringify(topic)}`,
        );
        if (expected !== undefined) refused += 1;
      }
    }
    assert.ok(refused > 4 * 0x60, `refused ${refused}`); // the refused characters were exercised
  });
  const filters: Array<[string, boolean]> = [
    ['taxi/#', true],
    ['#', true],
    ['+/+/x', true],
    ['$share/g/taxi/+', true],
    ['a/#/b', false],
    ['a/b#', false],
    ['a+/b', false],
    ['', false],
  ];
  for (const [filter, ok] of filters) {
    it(`topic filter ${JSON.stringify(filter)} is ${ok ? 'valid' : 'refused'} [MQTT-4.7.1-2]`, () =>
      assert.equal(topicFilterProblem(filter) === undefined, ok));
  }
});

describe('CONNECT steps', () => {
  const base: IConnectPacket = {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: 'taxi-1',
    clean: true,
    keepalive: 30,
  };
  it('validates protocol levels and client ids', () => {
    assert.deepEqual(validateConnect(base), { ok: true, clientId: 'taxi-1', assigned: false });
    assert.equal(validateConnect({ ...base, protocolVersion: 3 }).ok, false);
    const generated = validateConnect({ ...base, clientId: '' });
    assert.ok(generated.ok && generated.assigned && generated.clientId.startsWith('brokel-'));
    assert.deepEqual(validateConnect({ ...base, clientId: '', clean: false }), {
      ok: false,
      code: 2,
      reason: 'empty client id with clean session off',
    }); // [MQTT-3.1.3-8]
    assert.equal(validateConnect({ ...base, protocolVersion: 5, clientId: '', clean: false }).ok, true);
  });
  it('puts the will only on the home broker, in the broker’s level', () => {
    const will = {
      topic: 'w',
      payload: Buffer.from('x'),
      qos: 1 as const,
      retain: false,
      properties: { willDelayInterval: 5 },
    };
    const client = { ...base, protocolVersion: 5 as const, will, username: 'u', password: Buffer.from('p') };
    assert.equal(upstreamConnect(client, 'id', 5, false).will, undefined);
    assert.deepEqual(upstreamConnect(client, 'id', 5, true).will, will);
    assert.deepEqual(upstreamConnect(client, 'id', 4, true).will, {
      topic: 'w',
      payload: will.payload,
      qos: 1,
      retain: false,
    });
    assert.equal(upstreamConnect(client, 'id', 4, true).username, 'u');
  });
  it('gives a 3.1.1 client’s session flags to a v5 broker: clean session 0 is a session that never expires', () => {
    const v4 = (clean: boolean): IConnectPacket => ({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: 'c',
      clean,
      keepalive: 30,
    });
    assert.deepEqual(upstreamConnect(v4(false), 'c', 5, false).properties, {
      sessionExpiryInterval: 0xffffffff,
    });
    assert.equal(upstreamConnect(v4(false), 'c', 5, false).clean, false);
    assert.equal(upstreamConnect(v4(true), 'c', 5, false).properties, undefined);
    assert.equal(upstreamConnect(v4(false), 'c', 4, false).properties, undefined);
  });
  it('translates the home broker’s CONNACK to the client’s level', () => {
    assert.deepEqual(
      clientConnack({ cmd: 'connack', sessionPresent: false, returnCode: 4 }, 4, 5, undefined),
      {
        cmd: 'connack',
        sessionPresent: false,
        reasonCode: 0x86,
      },
    );
    assert.deepEqual(
      clientConnack({ cmd: 'connack', sessionPresent: true, reasonCode: 0 }, 5, 4, { receiveMaximum: 5 }),
      {
        cmd: 'connack',
        sessionPresent: true,
        returnCode: 0,
      },
    );
  });
});

describe('broker URLs', () => {
  it('parses mqtt://host:port and refuses others, naming the field', () => {
    assert.deepEqual(parseBrokerUrl('mqtt://127.42.0.1:1883'), {
      id: '127.42.0.1:1883',
      host: '127.42.0.1',
      port: 1883,
      url: 'mqtt://127.42.0.1:1883',
      tls: false,
    });
    // mqtts://: TLS, 8883 by default (MQTT 5.0 §4.2: IANA registered 8883 for MQTT over TLS).
    assert.deepEqual(parseBrokerUrl('mqtts://127.42.0.1'), {
      id: '127.42.0.1:8883',
      host: '127.42.0.1',
      port: 8883,
      url: 'mqtts://127.42.0.1:8883',
      tls: true,
    });
    assert.equal(parseBrokerUrl('mqtt://[::1]').id, '[::1]:1883');
    assert.throws(
      () => parseBrokerUrl('http://x:1', 'brokers[0].url'),
      /brokers\[0\]\.url: "http:\/\/x:1": only mqtt/,
    );
    assert.throws(() => parseBrokerUrl('nope', 'b'), /b: "nope" is not a URL/);
  });
});
