import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { OrchestratorLimits } from '../../orchestrator/limits.ts';
import type { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { connectTcp, encode, handshake } from '../helpers/mqtt-wire.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { waitFor } from '../helpers/resources.ts';

const FLOOD_MAX = 30_000_000;
const FLOOD_SECONDS = 30;

/**
 * A QoS 0 publisher that writes as fast as its socket takes it and waits for 'drain' when it does not
 * (so, unlike `yes | mosquitto_pub -l`, it queues nothing of its own while the orchestrator stops
 * reading it); bounded in count and time, stopped at teardown.
 */
async function flood(t: TestContext, port: number): Promise<void> {
  const conn = await connectTcp(t, port);
  await handshake(conn, 'flooder', 4);
  const one = encode(
    {
      cmd: 'publish',
      topic: 'load/0',
      payload: Buffer.from('0123456789abcdef'),
      qos: 0,
      retain: false,
      dup: false,
    },
    4,
  );
  const chunk = Buffer.concat(Array.from({ length: 64 }, () => one));
  const deadline = Date.now() + FLOOD_SECONDS * 1000;
  let stopped = false;
  t.after(() => {
    stopped = true;
  });
  void (async () => {
    for (let sent = 0; !stopped && sent < FLOOD_MAX && Date.now() < deadline; sent += 64) {
      if (conn.stream.destroyed) return;
      if (!conn.stream.write(chunk))
        await new Promise<void>((resolve) => {
          const go = () => {
            conn.stream.off('drain', go);
            conn.stream.off('close', go);
            resolve();
          };
          conn.stream.on('drain', go);
          conn.stream.on('close', go);
        });
      else if (sent % 4096 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  })();
}

/** Waits until what `read` counts stays the same for `quietMs` (a broker's link is full, or a client paused). */
async function frozen(read: () => number, quietMs: number, timeoutMs: number, what: string): Promise<void> {
  let last = read();
  let since = Date.now();
  await waitFor(
    () => {
      const now = read();
      if (now !== last) {
        last = now;
        since = Date.now();
      }
      return Date.now() - since >= quietMs;
    },
    timeoutMs,
    what,
  );
}

/** How much more `read` counts after `ms`. */
async function gainedWithin(read: () => number, ms: number): Promise<number> {
  const before = read();
  await new Promise((r) => setTimeout(r, ms));
  return read() - before;
}

const publishedTo = (o: Orchestrator, b: TestMosquitto) => () =>
  o.status().brokers.find((x) => x.url === b.url)?.published ?? 0;

const signal = (b: TestMosquitto, s: NodeJS.Signals) => b.child?.kill(s);

/** A counter of the orchestrator's metrics as an operator scrapes it (-1: not there). */
async function metric(o: Orchestrator, name: string): Promise<number> {
  const text = await o.metrics.registry.metrics();
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? -1);
}

/**
 * An orchestrator over `a` and `b` under the flood, then both brokers SIGSTOPped until nothing more goes
 * to either (the client paused); the caller SIGCONTs them (a stopped broker would not end at teardown).
 */
async function floodThenStopBoth(
  t: TestContext,
  a: TestMosquitto,
  b: TestMosquitto,
  limits: Partial<OrchestratorLimits> = {},
): Promise<{ orchestrator: Orchestrator; total: () => number }> {
  const { orchestrator, port } = await startOrchestrator(t, [a.url, b.url], { limits });
  await flood(t, port);
  const total = () => publishedTo(orchestrator, a)() + publishedTo(orchestrator, b)();
  await waitFor(() => total() > 10_000, 10_000, 'the flood under way');
  signal(a, 'SIGSTOP');
  signal(b, 'SIGSTOP');
  await frozen(total, 1000, 20_000, 'publishes to both stopped brokers to stop');
  return { orchestrator, total };
}

// A QoS 0 publish has no acknowledgement: the one backpressure is a broker link's write buffer. A
// spreading strategy (round-robin, least-outstanding) sends a client's QoS 0 publishes round a broker
// whose buffer is full; the client is paused only when every broker's is, until one drains or goes.
describe('QoS 0 under backpressure: round a broker that does not keep up', () => {
  it('a stopped broker is gone round; the flood goes on through the other, and after that broker dies', async (t) => {
    const a = await TestMosquitto.start(t);
    const b = await TestMosquitto.start(t);
    const { orchestrator, port } = await startOrchestrator(t, [a.url, b.url]);
    await flood(t, port);
    await waitFor(() => publishedTo(orchestrator, a)() > 10_000, 10_000, 'the flood under way');
    signal(a, 'SIGSTOP');
    try {
      // A reads nothing more: its link's buffers fill and nothing more goes to it.
      await frozen(publishedTo(orchestrator, a), 1000, 20_000, 'publishes to the stopped broker to stop');
      const meanwhile = await gainedWithin(publishedTo(orchestrator, b), 1000);
      assert.ok(
        meanwhile > 10_000,
        `publishes to the other broker while one is stopped: ${meanwhile} in 1 s`,
      );
      // What an operator sees: publishes sent round the full broker. (The client is also paused now and
      // then: the flood fills the running broker's buffer too, for moments, while the other's is full.)
      const detours = await metric(orchestrator, 'brokel_orchestrator_qos0_detours_total');
      t.diagnostic(
        `detours ${detours}, room pauses ${await metric(orchestrator, 'brokel_orchestrator_room_pauses_total')}`,
      );
      assert.ok(detours > 1000, `detours: ${detours}`);
      await a.kill('SIGKILL');
    } finally {
      signal(a, 'SIGCONT'); // a stopped broker would not end at teardown
    }
    const after = await gainedWithin(publishedTo(orchestrator, b), 1000);
    assert.ok(after > 10_000, `publishes to the other broker after the stopped one died: ${after} in 1 s`);
  });

  it('every broker full: the client waits, and goes on as soon as one of them reads again', async (t) => {
    const a = await TestMosquitto.start(t);
    const b = await TestMosquitto.start(t);
    try {
      // The client is paused: nothing more is read from it, so nothing more goes to either broker.
      const { orchestrator, total } = await floodThenStopBoth(t, a, b);
      const sentWhilePaused = total();
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(total(), sentWhilePaused, 'nothing forwarded while every broker is full');
      assert.ok((await metric(orchestrator, 'brokel_orchestrator_room_pauses_total')) >= 1);
      // Whichever filled last, the first to read again takes the flood.
      signal(a, 'SIGCONT');
      const through = await gainedWithin(publishedTo(orchestrator, a), 2000);
      assert.ok(through > 10_000, `publishes to A once it reads again, B still stopped: ${through} in 2 s`);
    } finally {
      signal(a, 'SIGCONT');
      signal(b, 'SIGCONT');
    }
  });

  it('client-affinity: the client waits for its broker, and goes on elsewhere when that broker dies with its buffer full', async (t) => {
    const brokers = [await TestMosquitto.start(t), await TestMosquitto.start(t)];
    const { orchestrator, port } = await startOrchestrator(
      t,
      brokers.map((b) => b.url),
      { routing: 'client-affinity' },
    );
    await flood(t, port);
    await waitFor(
      () => brokers.some((b) => publishedTo(orchestrator, b)() > 10_000),
      10_000,
      'the flood under way',
    );
    const [owner, other] =
      publishedTo(orchestrator, brokers[0] as TestMosquitto)() > 0 ? brokers : [...brokers].reverse();
    assert.ok(owner && other);
    assert.equal(publishedTo(orchestrator, other)(), 0, "one broker takes the client's publishes");
    signal(owner, 'SIGSTOP');
    try {
      await frozen(publishedTo(orchestrator, owner), 1000, 20_000, 'publishes to the stopped broker to stop');
      assert.equal(publishedTo(orchestrator, other)(), 0, 'none went elsewhere while the broker lives');
      await owner.kill('SIGKILL');
    } finally {
      signal(owner, 'SIGCONT');
    }
    const after = await gainedWithin(publishedTo(orchestrator, other), 2000);
    assert.ok(after > 10_000, `publishes to the other broker after the client's own died: ${after} in 2 s`);
  });

  it('every broker full: a broker that becomes routable takes the flood, the others still stopped', async (t) => {
    const [a, b, c] = [
      await TestMosquitto.start(t),
      await TestMosquitto.start(t),
      await TestMosquitto.start(t),
    ];
    try {
      // The join reads the session registry of A and B first: a short answer timeout lets it give up on them.
      const { orchestrator } = await floodThenStopBoth(t, a, b, { upstreamConnectTimeoutMs: 500 });
      const joined = Date.now();
      orchestrator.setBrokers([a, b, c].map((x) => ({ url: x.url, state: 'active' as const })));
      await waitFor(
        () => publishedTo(orchestrator, c)() > 10_000,
        15_000,
        'publishes to the broker that joined',
      );
      t.diagnostic(`the joined broker took publishes ${Date.now() - joined} ms after it joined`);
    } finally {
      signal(a, 'SIGCONT');
      signal(b, 'SIGCONT');
    }
  });
});
