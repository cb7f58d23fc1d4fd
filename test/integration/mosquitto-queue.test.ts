// test-timeout-ms: 600000
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { MqttClient } from 'mqtt';
import { connectClient, startProvider } from '../helpers/resources.ts';

const BURST = 200_000;

/** Publishes `count` QoS 1 messages as fast as the broker acknowledges them (window of 500). */
async function publishBurst(pub: MqttClient, topic: string, count: number): Promise<void> {
  const window = 500;
  let next = 0;
  let acked = 0;
  await new Promise<void>((resolve, reject) => {
    const sendMore = () => {
      while (next < count && next - acked < window) {
        const seq = next++;
        pub.publish(topic, String(seq), { qos: 1 }, (err) => {
          if (err) return reject(err);
          acked += 1;
          if (acked === count) resolve();
          else sendMore();
        });
      }
    };
    sendMore();
  });
}

/**
 * Counts distinct sequence numbers a subscriber gets until all arrived or none came for quietMs
 * (counted from the last message or the last `touch()`: a paused reader gets nothing until resumed).
 */
function countReceived(
  sub: MqttClient,
  count: number,
  quietMs: number,
): { done: Promise<number>; touch: () => void } {
  const seen = new Uint8Array(count);
  let distinct = 0;
  let last = Date.now();
  sub.on('message', (_topic, payload) => {
    const seq = Number(payload.toString());
    last = Date.now();
    if (seen[seq] === 0) {
      seen[seq] = 1;
      distinct += 1;
    }
  });
  const done = new Promise<number>((resolve) => {
    const timer = setInterval(() => {
      if (distinct === count || Date.now() - last > quietMs) {
        clearInterval(timer);
        resolve(distinct);
      }
    }, 50);
  });
  return {
    done,
    touch: () => {
      last = Date.now();
    },
  };
}

async function onlineBurst(
  t: TestContext,
  params: Record<string, unknown>,
  count: number,
  slowReader: boolean,
) {
  const provider = await startProvider(t);
  const broker = await provider.waitReady(
    (await provider.create('broker', 'mosquitto', { params })).id,
    10_000,
  );
  const sub = await connectClient(t, broker.url, { clientId: 'burst-sub' });
  const pub = await connectClient(t, broker.url, { clientId: 'burst-pub' });
  await sub.subscribeAsync('burst', { qos: 1 });
  const counter = countReceived(sub, count, 3000);
  // A slow reader: the subscriber stops reading its socket for the whole burst, so the broker must
  // hold everything it has not delivered (20 in flight + its queue) until the reader comes back.
  if (slowReader) sub.stream.pause();
  const started = Date.now();
  await publishBurst(pub, 'burst', count);
  // The quiet time starts now: a burst longer than quietMs (3.5 s on a loaded CI machine) must not
  // end the count while the reader is still paused (it once reported all 50,000 lost that way).
  counter.touch();
  if (slowReader) sub.stream.resume();
  const received = await counter.done;
  return { lost: count - received, seconds: (Date.now() - started) / 1000 };
}

describe('mosquitto template queue limits (QoS 1 burst, 1 publisher to 1 subscriber)', () => {
  it(`loses none of ${BURST} messages at full speed with the template's limits`, async (t) => {
    const { lost, seconds } = await onlineBurst(t, {}, BURST, false);
    t.diagnostic(`template limits: lost ${lost} of ${BURST} in ${seconds.toFixed(1)} s`);
    assert.equal(lost, 0);
  });

  for (const [name, params, check] of [
    ['the template keeps every message', {}, (lost: number) => lost === 0],
    [
      "Mosquitto's default max_queued_messages 1000 drops all but ~1020",
      { maxQueuedMessages: 1000 },
      (lost: number) => lost >= 50_000 - 1100,
    ],
  ] as const) {
    it(`with a subscriber that stops reading during a 50,000-message burst, ${name}`, async (t) => {
      const { lost, seconds } = await onlineBurst(t, params, 50_000, true);
      t.diagnostic(
        `params ${JSON.stringify(params)}: lost ${lost} of 50000 (${((100 * lost) / 50_000).toFixed(1)} %) in ${seconds.toFixed(1)} s`,
      );
      assert.ok(check(lost), `lost ${lost}`);
    });
  }

  it('keeps every message for an offline persistent session (the default keeps about 1000)', async (t) => {
    const provider = await startProvider(t);
    const count = 20_000;
    for (const [params, check] of [
      [{}, (n: number) => n === count],
      [{ maxQueuedMessages: 1000 }, (n: number) => n >= 900 && n <= 1020],
    ] as const) {
      const broker = await provider.waitReady(
        (await provider.create('broker', 'mosquitto', { params })).id,
        10_000,
      );
      const first = await connectClient(t, broker.url, { clientId: 'offline-sub', clean: false });
      await first.subscribeAsync('offline', { qos: 1 });
      await first.endAsync();
      const pub = await connectClient(t, broker.url, { clientId: 'offline-pub' });
      await publishBurst(pub, 'offline', count);
      let counter: { done: Promise<number> } | undefined;
      await connectClient(t, broker.url, { clientId: 'offline-sub', clean: false }, (back) => {
        counter = countReceived(back, count, 1500);
      });
      const received = (await counter?.done) ?? 0;
      t.diagnostic(`params ${JSON.stringify(params)}: ${received} of ${count} kept for the offline session`);
      assert.ok(check(received), `received ${received}`);
    }
  });
});
