// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { linePublisher, threeMosquittos } from '../helpers/line-publisher.ts';
import { connectTcp, handshake, waitUntil, writePacket } from '../helpers/mqtt-wire.ts';
import { settle, startOrchestrator, subscriber } from '../helpers/orchestrator.ts';

describe('acknowledgements over several brokers', () => {
  it('PUBACK and PUBREC reach the client in the order of its PUBLISHes though one broker answers late [MQTT-4.6.0-2] [MQTT-4.6.0-3]', async (t) => {
    const { urls } = await threeMosquittos(t, 60);
    const { port } = await startOrchestrator(t, urls);
    const conn = await connectTcp(t, port);
    assert.equal((await handshake(conn, 'ack-order', 4)).returnCode, 0);
    const sent: string[] = [];
    for (let id = 1; id <= 60; id++) {
      const qos = id % 3 === 0 ? 2 : 1;
      sent.push(`${qos === 1 ? 'puback' : 'pubrec'}:${id}`);
      await writePacket(conn, {
        cmd: 'publish',
        topic: 'order/t',
        payload: `m${id}`,
        qos,
        messageId: id,
        dup: false,
        retain: false,
      });
    }
    const acks = () => conn.received.filter((p) => p.cmd === 'puback' || p.cmd === 'pubrec');
    assert.ok(
      await waitUntil(conn, () => acks().length >= sent.length, 5000),
      `${acks().length} of 60 acknowledged`,
    );
    assert.deepEqual(
      acks().map((p) => `${p.cmd}:${(p as { messageId?: number }).messageId}`),
      sent,
    );
  });

  it('every accepted QoS 1 publish is acknowledged once a broker has it: mosquitto_pub -l finishes though a broker is SIGKILLed (issue 10, defect 3)', async (t) => {
    // One broker answers 30 ms late (a busier or farther one), one is killed 1.5 s into the run.
    const { provider, ids, urls } = await threeMosquittos(t, 30);
    const { port } = await startOrchestrator(t, urls);
    const sub = await subscriber(t, `mqtt://127.0.0.1:${port}`, 'ack/#', 1);
    const count = 2500;
    const publishing = Promise.all(
      ['a', 'b'].map((name) => linePublisher(t, port, `ack/${name}`, name, count, 500, 6000)),
    );
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(provider.details(ids[1] ?? '')?.pid ?? -1, 'SIGKILL');
    const exits = await publishing;
    await settle([sub.counts], 2 * count, 2000);
    const percent = ((100 * sub.counts.duplicates) / (2 * count)).toFixed(1);
    t.diagnostic(
      `delivered ${sub.counts.distinct}/${2 * count}, duplicates ${sub.counts.duplicates} (${percent} %), exits ${exits}`,
    );
    assert.equal(sub.counts.distinct, 2 * count, 'no message lost');
    assert.deepEqual(exits, [0, 0], 'each publisher got its last PUBACK and exited');
  });
});
