/**
 * What holding upstream PUBACKs (limits.ackHoldMs, docs/data-plane.md "Session 25") costs a subscriber
 * whose broker lets only a few deliveries be in flight: one Mosquitto with `max_inflight_messages N`,
 * one orchestrator, one MQTT.js publisher sending `count` QoS 1 publishes at once and one subscriber;
 * prints deliveries per second with the hold and without (0), interleaved A B B A, `runs` times each,
 * after one warm-up run.
 *   node --import tsx bench/ack-hold-window.ts [inflight=1] [count=500] [runs=3] [holdMs=20]
 */
import { TestMosquitto } from '../test/helpers/mosquitto.ts';
import { startOrchestrator } from '../test/helpers/orchestrator.ts';
import { connectClient, waitFor } from '../test/helpers/resources.ts';
import { atBenchExit } from './lib/exit-cleanup.ts';
import { withTeardown } from './lib/teardown.ts';

const inflight = Number(process.argv[2] ?? 1);
const count = Number(process.argv[3] ?? 500);
const runs = Number(process.argv[4] ?? 3);
const holdMs = Number(process.argv[5] ?? 20);

function once(broker: TestMosquitto, ackHoldMs: number, run: number): Promise<number> {
  return withTeardown(async (t) => {
    const { url } = await startOrchestrator(t, [broker.url], { limits: { ackHoldMs } });
    const sub = await connectClient(t, url, { clientId: `ahw-s-${ackHoldMs}-${run}`, protocolVersion: 5 });
    await sub.subscribeAsync('ahw', { qos: 1 });
    let got = 0;
    sub.on('message', () => {
      got += 1;
    });
    const pub = await connectClient(t, url, { clientId: `ahw-p-${ackHoldMs}-${run}`, protocolVersion: 5 });
    const started = performance.now();
    for (let i = 0; i < count; i++) pub.publish('ahw', `m${i}`, { qos: 1 });
    await waitFor(() => got === count, 120_000, `${count} deliveries`);
    return (count / (performance.now() - started)) * 1000;
  });
}

const broker = await TestMosquitto.create([`max_inflight_messages ${inflight}`]);
atBenchExit(() => broker.stop());
try {
  const rates: Record<string, number[]> = { [holdMs]: [], 0: [] };
  await once(broker, 0, -1); // warm-up, not counted
  for (let run = 0; run < runs; run++) {
    // A B, then B A: a trend over the runs (the JIT warming up) favours neither.
    for (const hold of run % 2 === 0 ? [holdMs, 0] : [0, holdMs]) {
      const rate = await once(broker, hold, run);
      rates[hold]?.push(rate);
      console.log(
        `run ${run + 1} max_inflight_messages ${inflight}, ackHoldMs ${hold}: ${rate.toFixed(0)} deliveries/s`,
      );
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  for (const [hold, xs] of Object.entries(rates))
    console.log(
      `ackHoldMs ${hold}: median ${median(xs).toFixed(0)} deliveries/s over ${count} (${runs} runs)`,
    );
} finally {
  await broker.stop();
}
