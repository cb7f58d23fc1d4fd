import type { TestContext } from 'node:test';
import { publishSeq, settle, subscriber, type Tally } from './orchestrator.ts';
import { connectClient, within } from './resources.ts';

/**
 * A QoS 1 publisher and its subscriber (on `filter`) for a whole scaling run: batches of `batch`
 * numbered messages over `topics`, `pauseMs` apart. stop() waits for the batch in progress and for
 * the subscriber to settle, and returns how many went and the subscriber's tally.
 */
export async function qos1Probe(
  t: TestContext,
  url: string,
  filter: string,
  topics: readonly string[],
  batch: number,
  pauseMs: number,
) {
  const { counts } = await subscriber(t, url, filter, 1);
  const pub = await connectClient(t, url);
  let sent = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      await publishSeq(pub, `probe${sent}`, topics, batch, 1, 10);
      sent += batch;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return {
    counts,
    get sent() {
      return sent;
    },
    async stop(): Promise<{ sent: number; counts: Tally }> {
      running = false;
      await loop;
      await settle([counts], sent, 5000);
      return { sent, counts };
    },
  };
}

/**
 * Bounded QoS 0 load through `url` on `<prefix>/0..7` (a subscriber takes it), until `reached()`
 * says so (asked every `checkMs`) or `maxMs` passed. Flow-controlled by the socket.
 */
export async function loadUntil(
  t: TestContext,
  url: string,
  prefix: string,
  reached: () => Promise<boolean>,
  options: { maxMs?: number; checkMs?: number } = {},
) {
  const sink = await subscriber(t, url, `${prefix}/#`, 0);
  const pub = await connectClient(t, url);
  const payload = Buffer.alloc(100, 'x');
  const started = Date.now();
  const deadline = started + (options.maxMs ?? 60_000);
  let done = false;
  let lastCheck = 0;
  while (Date.now() < deadline && !done) {
    for (let i = 0; i < 100; i++) pub.publish(`${prefix}/${i % 8}`, payload, { qos: 0 });
    if (pub.stream.writableNeedDrain)
      await within(new Promise((r) => pub.stream.once('drain', r)), 30_000, 'the load socket to drain');
    else await new Promise((r) => setImmediate(r));
    if (Date.now() - lastCheck > (options.checkMs ?? 200)) {
      lastCheck = Date.now();
      done = await reached();
    }
  }
  return { reached: done, ms: Date.now() - started, sink };
}
