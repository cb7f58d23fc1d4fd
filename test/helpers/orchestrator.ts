import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { silentLogger } from '../../common/logger.ts';
import type { OrchestratorLimits } from '../../orchestrator/limits.ts';
import { Orchestrator } from '../../orchestrator/orchestrator.ts';
import type { BrokerState } from '../../orchestrator/pool/broker-pool.ts';
import type { RoutingStrategyName } from '../../orchestrator/routing/strategies.ts';
import { connectClient, within } from './resources.ts';

/** An orchestrator on an ephemeral loopback port, closed at teardown. */
export async function startOrchestrator(
  t: TestContext,
  brokerUrls: readonly string[],
  options: { routing?: RoutingStrategyName; limits?: Partial<OrchestratorLimits>; state?: BrokerState } = {},
): Promise<{ orchestrator: Orchestrator; url: string; port: number }> {
  const orchestrator = new Orchestrator({
    routing: options.routing ?? 'round-robin',
    brokers: brokerUrls.map((url) => ({ url, state: options.state ?? 'active' })),
    limits: options.limits ?? {},
    log: silentLogger(),
  });
  const port = await orchestrator.listen('127.0.0.1', 0);
  t.after(() => orchestrator.close());
  return { orchestrator, url: `mqtt://127.0.0.1:${port}`, port };
}

export interface Tally {
  /** Distinct (publisher, seq) received. */
  distinct: number;
  duplicates: number;
  /** Messages that arrived with a lower seq than one already seen from the same publisher and topic. */
  reordered: number;
  total: number;
}

/**
 * Counts what a subscriber receives from payloads `pub:seq`: distinct, duplicates, and order per
 * (publisher, topic). Attach before subscribing.
 */
export function tally(sub: MqttClient): Tally {
  const seen = new Set<string>();
  const lastSeq = new Map<string, number>();
  const t: Tally = { distinct: 0, duplicates: 0, reordered: 0, total: 0 };
  sub.on('message', (topic, payload) => {
    const text = payload.toString();
    const [pub, seqText] = text.split(':');
    const seq = Number(seqText);
    t.total += 1;
    if (seen.has(text)) {
      t.duplicates += 1;
      return;
    }
    seen.add(text);
    t.distinct += 1;
    const key = `${pub}|${topic}`;
    const last = lastSeq.get(key) ?? -1;
    if (seq < last) t.reordered += 1;
    else lastSeq.set(key, seq);
  });
  return t;
}

/**
 * Publishes `count` messages `name:seq` on `topics` in turn, at most `window` unacknowledged at once
 * (QoS 1/2) and flow-controlled by the socket at QoS 0. Rejects when the last acknowledgement has
 * not come within timeoutMs.
 */
export async function publishSeq(
  pub: MqttClient,
  name: string,
  topics: readonly string[],
  count: number,
  qos: 0 | 1 | 2,
  window = 50,
  timeoutMs = 60_000,
): Promise<void> {
  let next = 0;
  let done = 0;
  const all = new Promise<void>((resolve, reject) => {
    if (count === 0) return resolve();
    const pump = () => {
      while (next < count && next - done < window) {
        const seq = next++;
        pub.publish(topics[seq % topics.length] ?? 't', `${name}:${seq}`, { qos }, (err) => {
          if (err) return reject(err);
          done += 1;
          if (done === count) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  await within(all, timeoutMs, `${name}: acknowledgements of ${count} publishes (${done} so far)`);
}

/** Waits until every tally has `expected` distinct messages, or until no progress for quietMs. */
export async function settle(tallies: readonly Tally[], expected: number, quietMs = 2000): Promise<void> {
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const sum = tallies.reduce((n, t) => n + t.distinct, 0);
    if (tallies.every((t) => t.distinct >= expected)) return;
    if (sum !== last) {
      last = sum;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > quietMs) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function subscriber(t: TestContext, url: string, filter: string, qos: 0 | 1 | 2, opts = {}) {
  let counts: Tally | undefined;
  const client = await connectClient(t, url, opts, (c) => {
    counts = tally(c);
  });
  await within(client.subscribeAsync(filter, { qos }), 10_000, `SUBACK for ${filter}`);
  return { client, counts: counts as Tally };
}

const run = promisify(execFile);

/** Debian's mosquitto-clients, unmodified: mosquitto_sub (v5) waits for 3 messages that mosquitto_pub (3.1.1) sends. */
export async function assertMosquittoClients(t: TestContext, port: number): Promise<void> {
  // Debian's mosquitto-clients, unmodified: a subscriber waiting for 3 messages, a publisher.
  const child = spawn('mosquitto_sub', [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-t',
    'cli/#',
    '-q',
    '1',
    '-C',
    '3',
    '-v',
    '-V',
    'mqttv5',
    '-W',
    '30',
  ]);
  t.after(() => child.kill());
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  // Publish until the subscriber is in place and has its 3 messages (it may subscribe late).
  for (let i = 0; i < 50 && child.exitCode === null; i++) {
    await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-t',
      `cli/${i}`,
      '-m',
      `m${i}`,
      '-q',
      '1',
      '-V',
      'mqttv311',
    ]);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(await within(exited, 35_000, 'mosquitto_sub to exit'), 0);
  assert.equal(out.trim().split('\n').length, 3, out);
  assert.match(out, /^cli\/\d+ m\d+$/m);
}
