import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it, type TestContext } from 'node:test';
import type { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import { delayRelay } from '../helpers/delay-relay.ts';
import { connectTcp, handshake, waitUntil, writePacket } from '../helpers/mqtt-wire.ts';
import { settle, startOrchestrator, subscriber } from '../helpers/orchestrator.ts';
import { startProvider } from '../helpers/resources.ts';

/** Three Mosquittos; the first is reached through a relay that makes its answers `lateMs` late. */
async function threeMosquittos(
  t: TestContext,
  lateMs: number,
): Promise<{ provider: LocalProvider; ids: string[]; urls: string[] }> {
  const provider = await startProvider(t);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await provider.create('broker', 'mosquitto')).id);
  const ready = await Promise.all(ids.map((id) => provider.waitReady(id, 10_000)));
  const urls = ready.map((r) => r.url);
  const first = ready[0];
  if (first && lateMs > 0) urls[0] = (await delayRelay(t, first, lateMs)).url;
  return { provider, ids, urls };
}

/**
 * Debian's mosquitto_pub in line mode (-l, QoS 1, MQTT 3.1.1), one message `name:seq` per line fed at
 * `perSecond`; its input ends 200 ms after the last line. Resolves with its exit code, or 'hung' when
 * it has not exited `graceMs` after that (it exits once its last message is acknowledged).
 */
function linePublisher(
  t: TestContext,
  port: number,
  name: string,
  count: number,
  perSecond: number,
  graceMs: number,
): Promise<number | 'hung'> {
  const child = spawn('mosquitto_pub', [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-q',
    '1',
    '-l',
    '-t',
    `ack/${name}`,
  ]);
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
  return new Promise((resolve) => {
    let next = 0;
    const perTick = Math.max(1, Math.round(perSecond / 100));
    const timer = setInterval(() => {
      let lines = '';
      for (let i = 0; i < perTick && next < count; i++) lines += `${name}:${next++}\n`;
      child.stdin.write(lines);
      if (next < count) return;
      clearInterval(timer);
      setTimeout(() => child.stdin.end(), 200);
      const hung = setTimeout(() => resolve('hung'), 200 + graceMs);
      void exited.then((code) => {
        clearTimeout(hung);
        resolve(code);
      });
    }, 10);
  });
}

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
    const publishing = Promise.all(['a', 'b'].map((name) => linePublisher(t, port, name, count, 500, 6000)));
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
