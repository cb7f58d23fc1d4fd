import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { fuzzCase } from '../helpers/fuzz-frames.ts';
import { connectPacket, encode, Rng } from '../helpers/mqtt-wire.ts';
import { orchestratorProcess } from '../helpers/orchestrator-process.ts';
import { connectClient, startProvider, within } from '../helpers/resources.ts';

/**
 * Fuzz at scale (issue 17): malformed MQTT frames (random bytes, and valid v4/v5 packets mutated:
 * bit flips, truncation, lying lengths, inserted/deleted bytes, merged packets) against a real
 * `brokel orchestrator` process over TCP, while a healthy pair publishes and receives QoS 1 through
 * it the whole time. A crash is the process exiting; the healthy pair must lose nothing and never be
 * disconnected. FUZZ_MQTT_FRAMES sets the count (CI: 20,000; `npm run fuzz`: 100,000), FUZZ_SEED
 * the seed. The protocol-level checks per frame (which answer is owed) are the in-process fuzz of
 * orchestrator-malformed.test.ts; this one is about volume, a separate process, and live traffic.
 */
const FRAMES = Number(process.env.FUZZ_MQTT_FRAMES ?? 20_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5ca1ab1e) >>> 0;
const WORKERS = 24;
const PUBLISH_PERIOD_MS = 5;

/** One attacking connection: maybe a CONNECT, then 1–20 fuzz frames, one write each. */
async function attack(port: number, index: number, counts: { frames: number; closedByServer: number }) {
  const rng = new Rng((SEED ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const version = rng.pick([4, 5] as const);
  const socket: Socket = netConnect({ host: '127.0.0.1', port, noDelay: true });
  let closed = false;
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
  });
  socket.on('end', () => {
    closed = true;
  });
  socket.resume(); // what the orchestrator answers is read and dropped
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    const connectFirst = rng.chance(0.6);
    if (connectFirst) socket.write(encode(connectPacket(`fz-${index}`, version), version));
    const n = rng.range(1, 20);
    for (let i = 0; i < n && !closed; i += 1) {
      socket.write(fuzzCase(rng, version, String(index), !connectFirst && i === 0).bytes);
      counts.frames += 1;
      await new Promise((r) => setImmediate(r));
    }
    // give the orchestrator a moment to read the last frame (and maybe close) before we do
    for (let waited = 0; waited < 40 && !closed; waited += 10) await new Promise((r) => setTimeout(r, 10));
    if (closed) counts.closedByServer += 1;
  } catch {
    // a refused or reset connection counts as an attack that ended early
  } finally {
    socket.destroy();
  }
}

describe('fuzz at scale: a real orchestrator process under malformed MQTT, a healthy pair unaffected', () => {
  it(`${FRAMES} malformed frames over TCP: no crash, no loss or disconnect for the healthy QoS 1 pair`, async (t) => {
    const provider = await startProvider(t);
    const broker = await provider.waitReady((await provider.create('broker', 'mosquitto')).id, 10_000);
    const orch = await orchestratorProcess(t, [broker.url]);
    const url = `mqtt://127.0.0.1:${orch.port}`;
    const sub = await connectClient(t, url, { clientId: 'healthy-sub', protocolVersion: 4, clean: true });
    await within(sub.subscribeAsync('healthy/stream', { qos: 1 }), 5000, 'SUBACK');
    const pub = await connectClient(t, url, { clientId: 'healthy-pub', protocolVersion: 5, clean: true });
    let closes = 0;
    for (const c of [sub, pub]) c.on('close', () => (closes += 1));
    const seen = new Set<string>();
    sub.on('message', (_topic, payload) => seen.add(payload.toString()));
    let sent = 0;
    let acked = 0;
    let refused = 0;
    const publisher = setInterval(() => {
      pub.publish('healthy/stream', String(sent++), { qos: 1 }, (err) => {
        if (err) refused += 1;
        else acked += 1;
      });
    }, PUBLISH_PERIOD_MS);
    const counts = { frames: 0, closedByServer: 0 };
    const started = Date.now();
    let next = 0;
    try {
      await Promise.all(
        Array.from({ length: WORKERS }, async () => {
          while (counts.frames < FRAMES && orch.alive()) await attack(orch.port, next++, counts);
        }),
      );
    } finally {
      clearInterval(publisher);
    }
    const seconds = (Date.now() - started) / 1000;
    await within(
      (async () => {
        while (acked + refused < sent || seen.size < acked) await new Promise((r) => setTimeout(r, 20));
      })(),
      10_000,
      'the healthy stream to settle',
    ).catch(() => {});
    t.diagnostic(
      `seed ${SEED}: ${counts.frames} frames over ${next} connections in ${seconds.toFixed(1)} s ` +
        `(${Math.round(counts.frames / seconds)}/s), ${counts.closedByServer} closed by the orchestrator; ` +
        `healthy pair: ${sent} sent, ${acked} acked, ${refused} refused, ${seen.size} received, ${closes} disconnects`,
    );
    assert.ok(
      orch.alive(),
      `the orchestrator exited (code ${orch.child.exitCode}, signal ${orch.child.signalCode}): ${orch.output()}`,
    );
    assert.ok(counts.frames >= FRAMES, `${counts.frames} frames`);
    assert.equal(closes, 0, 'the healthy pair was never disconnected');
    assert.equal(refused, 0, 'no healthy publish refused');
    assert.equal(sent - seen.size, 0, 'healthy messages lost');
    // and a new client still gets through
    const fresh = await connectClient(t, url, { clientId: 'after-fuzz', protocolVersion: 5 });
    await within(fresh.publishAsync('healthy/stream', 'after', { qos: 1 }), 5000, 'PUBACK after the fuzz');
    await within(
      (async () => {
        while (!seen.has('after')) await new Promise((r) => setTimeout(r, 10));
      })(),
      5000,
      'delivery after the fuzz',
    );
  });
});
