// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Packet } from 'mqtt-packet';
import {
  connectTcp,
  expectNoPacket,
  handshake,
  nextPacket,
  summary,
  type WireConn,
  writePacket,
} from '../helpers/mqtt-wire.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { startManagerOn } from '../helpers/remote-provider.ts';
import { connectClient, startProvider, within } from '../helpers/resources.ts';

/**
 * Broker ACLs pass through the orchestrator (issue 17, security): a Mosquitto replica made from the
 * template with an `acl` param and users; the same client sequence runs directly against the broker
 * and through an orchestrator, and both must see the same answers.
 */
const USER = { username: 'alice', password: 'alice-secret' };
const ACL = [
  'user alice',
  'topic readwrite open/#',
  'topic read ro/#',
  'topic write wo/#',
  'topic deny secret/#',
];

/** RabbitMQ topic permissions (routing keys: the MQTT topic with `/` as `.`): the same rights as ACL. */
const TOPIC_PERMISSIONS = [{ user: 'alice', write: '^(open|wo)\\.', read: '^(open|ro)\\.' }];

async function aclStack(t: TestContext, template: 'mosquitto' | 'rabbitmq' = 'mosquitto') {
  const provider = await startProvider(t, {}, { users: [USER] });
  const params = template === 'mosquitto' ? { acl: ACL } : { topicPermissions: TOPIC_PERMISSIONS };
  const created = await provider.create('broker', template, { params });
  const broker = await provider.waitReady(created.id, 60_000);
  const orch = await startOrchestrator(t, [broker.url]);
  return {
    broker: { host: broker.host, port: broker.port },
    orchestrator: { host: '127.0.0.1', port: orch.port },
  };
}

interface Address {
  host: string;
  port: number;
}

interface Observed {
  /** PUBACK reason code of a QoS 1 publish on a topic alice may not write, or 'closed'. */
  deniedPuback: number | string;
  /** Whether a subscriber allowed to read that topic got the denied message. */
  deniedDelivered: boolean;
  /** Whether the publisher's connection was closed within 500 ms of the denied publish. */
  closedAfterDenied: boolean;
  /** SUBACK codes of [open/# (allowed), secret/# (`topic deny`)], on a fresh connection. */
  suback: number[];
}

/**
 * CONNECT as alice until the CONNACK is 0. Retried for up to 10 s on "bad user name or password" or a close:
 * a RabbitMQ replica answers the readiness probe before its definitions (the users) are imported.
 */
async function login(t: TestContext, at: Address, id: string, version: 4 | 5): Promise<WireConn> {
  for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 200))) {
    const conn = await connectTcp(t, at.port, { host: at.host, version });
    const connack = await handshake(conn, id, version, {
      ...USER,
      password: Buffer.from(USER.password),
    }).catch(
      () => undefined, // closed without a CONNACK: also seen while RabbitMQ imports its definitions
    );
    const code = connack ? (connack.returnCode ?? connack.reasonCode ?? 0) : 4;
    if (code === 0) return conn;
    conn.stream.destroy();
    if (![4, 0x86].includes(code) || Date.now() > deadline) assert.fail(`CONNACK ${code} for ${id}`);
  }
}

/** The next `cmd` packet (PUBLISHes looping back to the client's own subscriptions skipped), or 'closed', or `disconnect 0xNN`. */
async function ackOf(conn: WireConn, cmd: 'puback' | 'suback'): Promise<Packet | string> {
  for (let skipped = 0; skipped < 4; skipped += 1) {
    let packet: Packet;
    try {
      packet = await nextPacket(conn, 3000);
    } catch (err) {
      if (conn.closed) return 'closed';
      throw err;
    }
    if (packet.cmd === cmd) return packet;
    if (packet.cmd === 'disconnect') return `disconnect 0x${(packet.reasonCode ?? 0).toString(16)}`;
    assert.equal(packet.cmd, 'publish', JSON.stringify(summary(packet)));
  }
  assert.fail(`no ${cmd} among the next packets`);
}

/** The same sequence, directly or through the orchestrator. */
async function observe(t: TestContext, at: Address, version: 4 | 5, tag: string): Promise<Observed> {
  const reader = await login(t, at, `${tag}-reader-v${version}`, version);
  await writePacket(reader, { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ro/#', qos: 1 }] });
  const readerAck = (await ackOf(reader, 'suback')) as Extract<Packet, { cmd: 'suback' }>;
  assert.deepEqual(readerAck.granted, [1], 'alice may read ro/#');

  const conn = await login(t, at, `${tag}-v${version}`, version);
  const publish = { cmd: 'publish', topic: 'ro/x', payload: 'denied', qos: 1, messageId: 7 } as const;
  await writePacket(conn, { ...publish, retain: false, dup: false });
  const denied = await ackOf(conn, 'puback');
  const deniedPuback =
    typeof denied === 'string' ? denied : ((denied as { reasonCode?: number }).reasonCode ?? 0);
  const deniedDelivered = await expectNoPacket(reader, 500).then(
    () => false,
    () => true,
  );
  const closedAfterDenied = conn.closed;

  const subscriber = await login(t, at, `${tag}-sub-v${version}`, version);
  const subscriptions = [
    { topic: 'open/#', qos: 1 as const },
    { topic: 'secret/#', qos: 1 as const },
  ];
  await writePacket(subscriber, { cmd: 'subscribe', messageId: 8, subscriptions });
  const ack = await ackOf(subscriber, 'suback');
  const suback =
    typeof ack === 'string' ? [] : [...(ack as Extract<Packet, { cmd: 'suback' }>).granted].map(Number);
  return { deniedPuback, deniedDelivered, closedAfterDenied, suback };
}

const name = (version: 4 | 5) => (version === 5 ? '5' : '3.1.1');

describe('broker ACLs pass through the orchestrator (Mosquitto 2.0.11 acl_file)', () => {
  for (const version of [5, 4] as const) {
    it(`MQTT ${name(version)}: a denied publish gets Mosquitto's PUBACK code and is not delivered`, async (t) => {
      const stack = await aclStack(t);
      const direct = await observe(t, stack.broker, version, 'direct');
      const proxied = await observe(t, stack.orchestrator, version, 'proxied');
      t.diagnostic(`direct ${JSON.stringify(direct)} proxied ${JSON.stringify(proxied)}`);
      // v5: PUBACK 0x87 Not authorized; 3.1.1 has no code for it, Mosquitto acknowledges with 0 and drops.
      assert.equal(direct.deniedPuback, version === 5 ? 0x87 : 0);
      assert.equal(proxied.deniedPuback, direct.deniedPuback);
      assert.equal(direct.deniedDelivered, false);
      assert.equal(
        proxied.deniedDelivered,
        false,
        'the orchestrator does not deliver what the broker denied',
      );
      // Measured: Mosquitto 2.0.11's acl_file never denies a SUBSCRIBE (a `topic deny` or unlisted
      // topic is granted, and filtered at delivery), so there is no 0x80/0x87 SUBACK to pass through.
      assert.deepEqual(proxied.suback, direct.suback);
      // Measured: Mosquitto 2.0.11 closes the publisher's connection right after the denied PUBACK.
      assert.equal(direct.closedAfterDenied, true);
    });

    it(`MQTT ${name(version)}: the client is disconnected after a denied publish, as Mosquitto does`, async (t) => {
      const stack = await aclStack(t);
      const proxied = await observe(t, stack.orchestrator, version, 'proxied');
      assert.equal(proxied.deniedPuback, version === 5 ? 0x87 : 0, 'the PUBACK comes before the close');
      assert.equal(proxied.closedAfterDenied, true);
    });
  }
});

describe('broker ACLs pass through the orchestrator (RabbitMQ 3.10 topic permissions)', () => {
  it('a denied publish ends the client as RabbitMQ does; a denied filter gets 0x80 in SUBACK', async (t) => {
    const stack = await aclStack(t, 'rabbitmq');
    const direct = await observe(t, stack.broker, 4, 'direct'); // RabbitMQ's MQTT plugin is 3.1.1 only
    const proxied4 = await observe(t, stack.orchestrator, 4, 'proxied');
    const proxied5 = await observe(t, stack.orchestrator, 5, 'proxied');
    t.diagnostic(
      `direct ${JSON.stringify(direct)} v4 ${JSON.stringify(proxied4)} v5 ${JSON.stringify(proxied5)}`,
    );
    // RabbitMQ closes the connection on a publish without write permission (no PUBACK at all).
    assert.equal(direct.deniedPuback, 'closed');
    for (const o of [direct, proxied4, proxied5]) {
      assert.equal(o.deniedDelivered, false, 'a denied publish is not delivered');
      assert.equal(o.closedAfterDenied, true, 'the publisher is disconnected after a denied publish');
    }
    assert.equal(proxied4.deniedPuback, 'closed');
    // Directly, RabbitMQ closes on a SUBSCRIBE with a filter it may not read: no SUBACK. Through the
    // orchestrator the client gets a SUBACK with 0x80 (Failure) for the refused filter [MQTT-3.9.3-2].
    assert.deepEqual(direct.suback, []);
    assert.equal(proxied4.suback[1], 0x80);
    assert.ok((proxied5.suback[1] ?? 0) >= 0x80, 'v5: a failure reason code for the refused filter');
  });
});

/**
 * brokers.acl in brokel.yaml reaches every Mosquitto replica the manager starts: a publish the ACL
 * denies is refused (v5 PUBACK 0x87), through the manager's own orchestrator, while an allowed one
 * is accepted.
 */
describe('brokers.acl from the config', () => {
  it('a broker the manager started refuses a publish its ACL denies (PUBACK 0x87), accepts an allowed one', async (t) => {
    const provider = await startProvider(t, {}, { users: [USER] });
    await startManagerOn(t, provider, {
      monitor: { intervalSeconds: 0.5, warmupObservations: 1 },
      levels: { brokers: { min: 1, max: 1 }, orchestrators: { min: 1, max: 1 } },
      brokers: { users: [USER], acl: ['user alice', 'topic readwrite open/#', 'topic deny secret/#'] },
    });
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    assert.ok(orchestrator, 'the manager started an orchestrator');
    const client = await connectClient(t, orchestrator.url, {
      ...USER,
      protocolVersion: 5,
      clientId: 'acl-alice',
    });
    const publish = (topic: string) =>
      within(
        new Promise<number>((resolve) =>
          client.publish(topic, 'x', { qos: 1 }, (err, packet) => {
            const code = (err as { code?: number } | undefined)?.code;
            resolve(code ?? (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0);
          }),
        ),
        5_000,
        `the PUBACK for ${topic}`,
      );
    assert.equal(await publish('open/1'), 0, 'an allowed publish is accepted');
    assert.equal(await publish('secret/1'), 0x87, 'a denied publish gets 0x87 Not authorized');
  });
});
