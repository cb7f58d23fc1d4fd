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
import { startProvider } from '../helpers/resources.ts';

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

async function aclStack(t: TestContext) {
  const provider = await startProvider(t, {}, { users: [USER] });
  const created = await provider.create('broker', 'mosquitto', { params: { acl: ACL } });
  const broker = await provider.waitReady(created.id, 10_000);
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
  deniedPuback: number | 'closed';
  /** Whether a subscriber allowed to read that topic got the denied message. */
  deniedDelivered: boolean;
  /** Whether the publisher's connection was closed within 500 ms of the denied publish. */
  closedAfterDenied: boolean;
  /** SUBACK codes of [open/# (allowed), secret/# (`topic deny`)], on a fresh connection. */
  suback: number[];
}

async function login(t: TestContext, at: Address, id: string, version: 4 | 5): Promise<WireConn> {
  const conn = await connectTcp(t, at.port, { host: at.host, version });
  const connack = await handshake(conn, id, version, { ...USER, password: Buffer.from(USER.password) });
  assert.equal(connack.returnCode ?? connack.reasonCode ?? 0, 0, `CONNACK of ${id}`);
  return conn;
}

/** The next `cmd` packet (PUBLISHes looping back to the client's own subscriptions skipped), or 'closed'. */
async function ackOf(conn: WireConn, cmd: 'puback' | 'suback'): Promise<Packet | 'closed'> {
  for (let skipped = 0; skipped < 4; skipped += 1) {
    let packet: Packet;
    try {
      packet = await nextPacket(conn, 3000);
    } catch (err) {
      if (conn.closed) return 'closed';
      throw err;
    }
    if (packet.cmd === cmd) return packet;
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
  const deniedPuback = denied === 'closed' ? 'closed' : ((denied as { reasonCode?: number }).reasonCode ?? 0);
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
  const suback = ack === 'closed' ? [] : [...(ack as Extract<Packet, { cmd: 'suback' }>).granted].map(Number);
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

    it(`MQTT ${name(version)}: the client is disconnected after a denied publish, as Mosquitto does`, {
      todo: 'the orchestrator reconnects its upstream and keeps the client (see docs/faults-and-security.md)',
    }, async (t) => {
      const stack = await aclStack(t);
      const proxied = await observe(t, stack.orchestrator, version, 'proxied');
      assert.equal(proxied.closedAfterDenied, true);
    });
  }
});
