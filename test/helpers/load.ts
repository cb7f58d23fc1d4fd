import type { TestContext } from 'node:test';
import { publishSeq, subscriber } from './orchestrator.ts';
import { connectClient } from './resources.ts';

/**
 * A QoS 1 publisher in the background for a whole scaling run: batches of `batch` numbered messages
 * over `topics`, `pauseMs` apart. stop() waits for the batch in progress and returns how many went.
 */
export async function qos1Probe(
  t: TestContext,
  url: string,
  topics: readonly string[],
  batch: number,
  pauseMs: number,
) {
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
    get sent() {
      return sent;
    },
    async stop(): Promise<number> {
      running = false;
      await loop;
      return sent;
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
    if (pub.stream.writableNeedDrain) await new Promise((r) => pub.stream.once('drain', r));
    else await new Promise((r) => setImmediate(r));
    if (Date.now() - lastCheck > (options.checkMs ?? 200)) {
      lastCheck = Date.now();
      done = await reached();
    }
  }
  return { reached: done, ms: Date.now() - started, sink };
}
