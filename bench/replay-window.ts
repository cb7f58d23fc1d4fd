/**
 * Duplicates and loss the QoS 1 replay window costs when a broker dies (docs/acknowledgements-and-qos.md).
 * One orchestrator over 3 Mosquitto; Debian's mosquitto_pub -l sends 5,000 QoS 1 messages at ~1,000/s;
 * one broker is SIGKILLed at 2 s; an MQTT.js subscriber acknowledges each message after `lag` ms.
 * Windows are run interleaved (A B A B ...), `runs` times each.
 *   node --import tsx bench/replay-window.ts [windowsMs=2000,500] [lagMs=0] [runs=3]
 */
import { linePublisher, threeMosquittos } from '../test/helpers/line-publisher.ts';
import { settle, startOrchestrator, subscriber } from '../test/helpers/orchestrator.ts';
import { withTeardown } from './lib/teardown.ts';

const windows = (process.argv[2] ?? '2000,500').split(',').map(Number);
const lagMs = Number(process.argv[3] ?? 0);
const runs = Number(process.argv[4] ?? 3);
const COUNT = 5000;

function once(windowMs: number): Promise<{ lost: number; duplicates: number }> {
  return withTeardown(async (t) => {
    const { provider, ids, urls } = await threeMosquittos(t);
    const limits = { replayWindowMs: windowMs, replayMaxMessages: windowMs === 0 ? 0 : 100_000 };
    const { port } = await startOrchestrator(t, urls, { limits });
    const sub = await subscriber(t, `mqtt://127.0.0.1:${port}`, 'rw/#', 1);
    if (lagMs > 0) {
      const client = sub.client as unknown as { handleMessage: (p: unknown, cb: () => void) => void };
      client.handleMessage = (_p, cb) => setTimeout(cb, lagMs);
    }
    const publishing = linePublisher(t, port, 'rw/a', 'a', COUNT, 1000, 30_000);
    await new Promise((r) => setTimeout(r, 2000));
    process.kill(provider.details(ids[1] ?? '')?.pid ?? -1, 'SIGKILL');
    await publishing;
    await settle([sub.counts], COUNT, 3000);
    return { lost: COUNT - sub.counts.distinct, duplicates: sub.counts.duplicates };
  });
}

const results = new Map<number, Array<{ lost: number; duplicates: number }>>(windows.map((w) => [w, []]));
for (let r = 0; r < runs; r++) {
  for (const w of windows) {
    const result = await once(w);
    results.get(w)?.push(result);
    console.log(
      `window ${w} ms, lag ${lagMs} ms: lost ${result.lost}, duplicates ${result.duplicates} (${((100 * result.duplicates) / COUNT).toFixed(1)} %)`,
    );
  }
}
for (const [w, list] of results) {
  const dups = list.map((x) => x.duplicates).sort((a, b) => a - b);
  const median = dups[Math.floor(dups.length / 2)] ?? 0;
  console.log(
    `median, window ${w} ms: duplicates ${((100 * median) / COUNT).toFixed(1)} %, lost ${list.map((x) => x.lost).join('/')}`,
  );
}
