// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { homeBrokerRanking } from '../../orchestrator/routing/strategies.ts';
import { delayRelay } from '../helpers/delay-relay.ts';
import { connectTcp, expectPacket, handshake, type WireConn, writePacket } from '../helpers/mqtt-wire.ts';
import { startOrchestrator, subscriber } from '../helpers/orchestrator.ts';
import { startProvider, waitFor } from '../helpers/resources.ts';

type Mode = 'resend' | 'drop';

/**
 * Two Mosquittos (the first, the publisher's home, which gets its first publish, behind a relay that delays
 * one direction by `lateMs`), an orchestrator with the given choice, a QoS 2 subscriber and a raw
 * 3.1.1 publisher. kill() SIGKILLs the first broker and waits until the orchestrator saw it go.
 */
async function setUp(
  t: TestContext,
  mode: Mode,
  lateMs: number,
  direction: 'from-target' | 'to-target' = 'from-target',
) {
  const provider = await startProvider(t);
  const ids = [
    (await provider.create('broker', 'mosquitto')).id,
    (await provider.create('broker', 'mosquitto')).id,
  ];
  const ready = await Promise.all(ids.map((id) => provider.waitReady(id, 10_000)));
  const urls = ready.map((r) => r.url);
  const first = ready[0];
  if (!first) throw new Error('no broker');
  if (lateMs > 0) urls[0] = (await delayRelay(t, first, lateMs, direction)).url;
  const { orchestrator, url, port } = await startOrchestrator(t, urls, {
    limits: { qos2OnBrokerLoss: mode },
  });
  const sub = await subscriber(t, url, 'q2/#', 2);
  const victim = urls[0] ?? '';
  // A publisher whose home is the first broker: a round-robin session routes its first publish among
  // the links it has (its home one) while the others open (docs/data-plane.md, lazy links).
  const pool = orchestrator.status().brokers.map((b) => b.id);
  const victimId = orchestrator.status().brokers.find((b) => b.url === victim)?.id;
  const clientId = Array.from({ length: 16 }, (_, i) => `q2-${mode}-${i}`).find(
    (id) => homeBrokerRanking(id, pool)[0] === victimId,
  );
  if (!clientId) throw new Error('no client id whose home is the first broker');
  const pub = await connectTcp(t, port);
  assert.equal((await handshake(pub, clientId, 4)).returnCode, 0);
  const kill = async (): Promise<void> => {
    process.kill(provider.details(ids[0] ?? '')?.pid ?? -1, 'SIGKILL');
    await waitFor(
      () => status(orchestrator, victim)?.sessions === 0,
      5000,
      'the orchestrator sees the broker gone',
    );
  };
  return { orchestrator, sub, pub, victim, kill };
}

function status(orchestrator: Orchestrator, url: string) {
  return orchestrator.status().brokers.find((b) => b.url === url);
}

async function publishQos2(pub: WireConn, messageId: number, payload: string): Promise<void> {
  await writePacket(pub, {
    cmd: 'publish',
    topic: 'q2/t',
    payload,
    qos: 2,
    messageId,
    dup: false,
    retain: false,
  });
}

describe("QoS 2 when the broker that PUBREC'd a publish dies (limits.qos2OnBrokerLoss, issue 10 defect 6)", () => {
  it("'resend' (the default): the message still reaches the subscriber, once, and the flow completes", async (t) => {
    const { orchestrator, sub, pub, victim, kill } = await setUp(t, 'resend', 0);
    await publishQos2(pub, 7, 'kept');
    await expectPacket(pub, 'pubrec', 5000);
    assert.equal(status(orchestrator, victim)?.published, 1, 'the first publish went to the first broker');
    await kill(); // Mosquitto delivers a QoS 2 message on PUBREL: it died with this one undelivered
    await writePacket(pub, { cmd: 'pubrel', messageId: 7 });
    assert.equal((await expectPacket(pub, 'pubcomp', 5000)).messageId, 7);
    await waitFor(() => sub.counts.total >= 1, 5000, 'the message delivered');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sub.counts.total, 1);
  });

  it("'drop': the message is lost with its broker (exactly once or not at all), and the flow completes", async (t) => {
    const { orchestrator, sub, pub, victim, kill } = await setUp(t, 'drop', 0);
    await publishQos2(pub, 7, 'dropped');
    await expectPacket(pub, 'pubrec', 5000);
    assert.equal(status(orchestrator, victim)?.published, 1);
    await kill();
    await writePacket(pub, { cmd: 'pubrel', messageId: 7 });
    assert.equal((await expectPacket(pub, 'pubcomp', 5000)).messageId, 7);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(sub.counts.total, 0);
  });

  for (const mode of ['resend', 'drop'] as const) {
    it(`'${mode}': a broker that dies with the client's PUBREL on its way${mode === 'resend' ? ' (re-sent: delivered once)' : ' (lost)'}: the client still gets PUBCOMP`, async (t) => {
      // What goes to the first broker arrives 400 ms late: it dies before the PUBREL reaches it.
      const { sub, pub, kill } = await setUp(t, mode, 400, 'to-target');
      await publishQos2(pub, 9, 'released');
      await expectPacket(pub, 'pubrec', 5000);
      await writePacket(pub, { cmd: 'pubrel', messageId: 9 });
      await kill();
      assert.equal((await expectPacket(pub, 'pubcomp', 5000)).messageId, 9);
      if (mode === 'resend') await waitFor(() => sub.counts.total >= 1, 5000, 'the message delivered');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(sub.counts.total, mode === 'resend' ? 1 : 0);
    });
  }

  it('a QoS 2 delivery whose broker dies before its PUBREL still reaches the subscriber (the orchestrator sends the PUBREL)', async (t) => {
    // The first broker's packets arrive 400 ms late: its PUBLISH to the subscriber comes, then it is gone.
    const { sub, pub, kill } = await setUp(t, 'resend', 400);
    await publishQos2(pub, 11, 'delivered');
    await expectPacket(pub, 'pubrec', 5000);
    await writePacket(pub, { cmd: 'pubrel', messageId: 11 });
    await new Promise((r) => setTimeout(r, 50)); // the broker delivers on PUBREL, then dies
    await kill();
    assert.equal((await expectPacket(pub, 'pubcomp', 5000)).messageId, 11);
    await waitFor(() => sub.counts.total >= 1, 5000, 'the message delivered');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sub.counts.total, 1);
  });
});
