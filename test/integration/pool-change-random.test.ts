import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type IClientOptions, type MqttClient, Store } from 'mqtt';
import { silentLogger } from '../../common/logger.ts';
import { moveRetained } from '../../manager/retained-move.ts';
import { Orchestrator } from '../../orchestrator/orchestrator.ts';
import type { BrokerState } from '../../orchestrator/pool/broker-pool.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import {
  clearId,
  judge,
  makeSchedule,
  messageTopic,
  type Observed,
  type PlannedPublish,
  type PoolEvent,
  payloadOf,
  rng,
  type Schedule,
} from '../helpers/pool-schedule.ts';
import { connectClient, waitFor, within } from '../helpers/resources.ts';

/**
 * Switches for the checks that belong to other engineers' fixes (issue #10). Turn each on once its
 * branch is merged here:
 * - CHECK_RETAINED (h2: retained messages move on join and removal): every retained topic holds
 *   exactly its last value, or none after a clear.
 * - WITH_BROKER_DEATH (h3: PUBACK after a broker's death, QoS 2 after a broker's death): SIGKILLs are
 *   drawn into the schedules, and acknowledgements and deliveries are judged across them.
 */
const CHECK_RETAINED = true;
const WITH_BROKER_DEATH = true;
/**
 * Two defects this test found are fixed and fail a seed again (issue #10): a retained move re-delivered
 * the moved value to live subscribers (common/move-marker.ts), and after a SIGKILL a retained topic could
 * hold an older value than its last acknowledged one (orchestrator/session/retained-order.ts).
 */

/** 20 seeds by default; `BROKEL_SEED=n` reruns one, `BROKEL_SEEDS=k` runs seeds 1..k. */
const SEEDS = process.env.BROKEL_SEED
  ? [Number(process.env.BROKEL_SEED)]
  : Array.from({ length: Number(process.env.BROKEL_SEEDS ?? 20) }, (_, i) => i + 1);

const BROKERS = 4;
const PUBLISHERS = 4;
const PER_PUBLISHER = 40;

/** Subscribers: 3.1.1 and 5.0, clean and persistent. */
const SUBSCRIBERS: Array<{ name: string; options: IClientOptions; persistent: boolean }> = [
  { name: 'v4-clean', options: { protocolVersion: 4, clean: true }, persistent: false },
  { name: 'v4-persistent', options: { protocolVersion: 4, clean: false }, persistent: true },
  { name: 'v5-clean', options: { protocolVersion: 5, clean: true }, persistent: false },
  {
    name: 'v5-persistent',
    options: { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 } },
    persistent: true,
  },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('randomized pool changes under mixed QoS, retained and persistent-session traffic (issue #10)', () => {
  const brokers: TestMosquitto[] = [];
  before(async () => {
    for (let i = 0; i < BROKERS; i++) brokers.push(await TestMosquitto.create());
  });
  after(async () => {
    for (const b of brokers) await b.stop();
  });

  for (const seed of SEEDS) {
    it(`seed ${seed} (rerun alone: BROKEL_SEED=${seed})`, { timeout: 40_000 }, async (t) => {
      for (const b of brokers) if (!b.running) await b.boot(); // drained or killed in an earlier seed
      const schedule = makeSchedule(seed, {
        brokers: BROKERS,
        publishers: PUBLISHERS,
        perPublisher: PER_PUBLISHER,
        kills: WITH_BROKER_DEATH,
        persistentSubs: SUBSCRIBERS.flatMap((s, i) => (s.persistent ? [i] : [])),
      });
      const problems = await runSeed(t, schedule, brokers);
      assert.deepEqual(
        problems,
        [],
        `seed ${seed} (BROKEL_SEED=${seed}): ${JSON.stringify(schedule.events)}`,
      );
    });
  }
});

async function runSeed(t: TestContext, schedule: Schedule, brokers: TestMosquitto[]): Promise<string[]> {
  const { seed } = schedule;
  const choose = rng(seed ^ 0x5eed);
  const pool = new Map<number, BrokerState>(schedule.initial.map((i) => [i, 'active']));
  const orchestrator = new Orchestrator({
    routing: 'round-robin',
    brokers: schedule.initial.map((i) => ({ url: brokers[i]?.url ?? '', state: 'active' })),
    limits: { reconnectDelayMs: { first: 50, max: 500 } },
    log: silentLogger(),
  });
  t.after(() => orchestrator.close());
  const url = `mqtt://127.0.0.1:${await orchestrator.listen('127.0.0.1', 0)}`;
  /** Brokers whose retained messages move (the manager's retained fence, docs/retained-moves.md). */
  const fences = new Set<number>();
  const apply = () =>
    orchestrator.setBrokers(
      [...pool].map(([i, state]) => ({
        url: brokers[i]?.url ?? '',
        state,
        ...(fences.has(i) ? { retainedFence: true } : {}),
      })),
    );
  const status = (i: number) => orchestrator.status().brokers.find((b) => b.url === brokers[i]?.url);
  const idOf = (i: number) => (brokers[i]?.url ?? '').slice('mqtt://'.length);
  /** As the manager's topology does it: fence, wait until settled, move (h2: manager/retained-move.ts). */
  const fence = async (i: number) => {
    fences.add(i);
    apply();
    await waitFor(
      () => status(i)?.retainedFence === true && status(i)?.retainedUnsettled === 0,
      10_000,
      'fence',
    );
  };
  const move = (sources: number[], owners: number[]) =>
    moveRetained({
      sources: sources.map((i) => brokers[i]?.url ?? ''),
      owners: owners.map(idOf),
      auth: {},
      timeoutMs: 10_000,
    });

  // Subscribers first, each counting what it receives, per payload.
  const received = SUBSCRIBERS.map(() => new Map<string, number>());
  const count = (i: number) => (c: MqttClient) =>
    c.on('message', (_topic, payload) => {
      const text = payload.toString();
      if (text !== '') received[i]?.set(text, (received[i]?.get(text) ?? 0) + 1);
    });
  // A persistent subscriber's client keeps its QoS 2 state across reconnections, as its session does
  // (MQTT.js emits a QoS 2 message on PUBREL: a new client with a new store would drop one mid-flow).
  const stores = SUBSCRIBERS.map(() => new Store({ clean: false }));
  const subOptions = (i: number): IClientOptions => ({
    ...SUBSCRIBERS[i]?.options,
    clientId: `s${seed}-sub${i}`,
    ...(SUBSCRIBERS[i]?.persistent ? { incomingStore: stores[i] } : {}),
  });
  const subs: MqttClient[] = [];
  for (let i = 0; i < SUBSCRIBERS.length; i++) {
    // A v5 persistent subscriber starts its session clean; a 3.1.1 one with clean session 0.
    const first = {
      ...subOptions(i),
      clean: SUBSCRIBERS[i]?.options.protocolVersion === 5 || !SUBSCRIBERS[i]?.persistent,
    };
    const c = await connectClient(t, url, first, count(i));
    await c.subscribeAsync(`s${seed}/#`, { qos: 2 });
    subs.push(c);
  }

  // Publishers: each runs its planned publishes; a retained one waits for its acknowledgement.
  const started = Date.now();
  const acknowledged = new Set<string>();
  const keyOf = (p: PlannedPublish) => (p.clear ? clearId(p) : payloadOf(p));
  const publishOne = (c: MqttClient, p: PlannedPublish) =>
    new Promise<void>((resolve) =>
      c.publish(
        messageTopic(seed, p),
        payloadOf(p),
        { qos: p.qos, retain: p.retainKey !== undefined },
        (err) => {
          if (!err && p.qos > 0) acknowledged.add(keyOf(p));
          resolve();
        },
      ),
    );
  // When a broker could first store each retained publish: its PUBLISH (QoS 1) or PUBREL (QoS 2) left
  // the client (the judge needs it around a SIGKILL). A publisher has one retained publish at a time.
  const storableAtMs = new Map<string, number>();
  const retainedNow: Array<{ key: string; id?: number } | undefined> = [];
  const watchRetained = (i: number) => (c: MqttClient) =>
    c.on('packetsend', (packet) => {
      const now = retainedNow[i];
      if (!now) return;
      if (packet.cmd === 'publish' && packet.retain) now.id = packet.messageId;
      const stores = packet.cmd === 'publish' ? packet.retain && packet.qos === 1 : packet.cmd === 'pubrel';
      if (stores && packet.messageId === now.id && !storableAtMs.has(now.key))
        storableAtMs.set(now.key, Date.now() - started);
    });
  const pubs: MqttClient[] = [];
  for (let i = 0; i < PUBLISHERS; i++)
    pubs.push(await connectClient(t, url, { protocolVersion: i % 2 ? 5 : 4 }, watchRetained(i)));
  const publishing = Promise.all(
    schedule.publishes.map(async (plan, i) => {
      const c = pubs[i] as MqttClient;
      const pending: Promise<void>[] = [];
      for (const p of plan) {
        await sleep(p.gapMs);
        if (p.retainKey !== undefined) retainedNow[i] = { key: keyOf(p) };
        const done = publishOne(c, p);
        if (p.retainKey !== undefined) await done;
        else pending.push(done);
      }
      await Promise.all(pending);
    }),
  );

  // The pool changes, in order, each at its time (or when the previous one is over).
  let lastKillSentAtMs: number | undefined;
  const inPool = (state: BrokerState) => [...pool].filter(([, s]) => s === state).map(([i]) => i);
  const spares = () => brokers.map((_, i) => i).filter((i) => !pool.has(i) && brokers[i]?.running);
  const joinOne = async () => {
    const i = spares()[Math.floor(choose() * spares().length)];
    if (i === undefined) return;
    pool.set(i, 'joining');
    apply();
    await waitFor(() => status(i)?.synced === true, 10_000, `broker ${i} synced`);
    // Algorithm 1 with issue #10 defect 1: the retained messages it now owns move to it first.
    await fence(i);
    const active = inPool('active');
    await move(active, [...active, i]);
    pool.set(i, 'active');
    fences.delete(i);
    apply();
  };
  const run = async (event: PoolEvent) => {
    const active = inPool('active');
    if (event.kind === 'join') return joinOne();
    if (event.kind === 'away-join') {
      const sub = event.sub;
      await subs[sub]?.endAsync();
      await joinOne();
      subs[sub] = await connectClient(t, url, subOptions(sub), count(sub));
      // What it missed comes from each broker's queue for its session, a window at a time; a broker
      // killed before its queue is out takes the rest along (QoS 1 is replayed, QoS 2 not: defect 4 of
      // docs/chaos.md, a limit of the design). So the next event waits until everything acknowledged
      // before it came back has reached it (bounded: the judge reports what never does).
      const missed = [...acknowledged].filter((key) => !key.startsWith('clear:'));
      await waitFor(() => missed.every((key) => received[sub]?.has(key)), 3000, 'backlog').catch(
        () => undefined,
      );
      return;
    }
    if (active.length < 2) return;
    const i = active[Math.floor(choose() * active.length)] as number;
    if (event.kind === 'kill') {
      lastKillSentAtMs = Date.now() - started; // before the signal: nothing sent after it reaches this broker
      await brokers[i]?.kill('SIGKILL');
      await sleep(150); // the manager notices a dead broker some time later
      pool.delete(i);
      apply();
      return;
    }
    pool.set(i, 'draining');
    await fence(i); // retained publishes on its topics wait from now on (defect 2)
    let last = -1;
    let quietSince = Date.now();
    await waitFor(
      () => {
        const s = status(i);
        if (!s || s.inflight > 0) return false;
        if (s.delivered !== last) {
          last = s.delivered;
          quietSince = Date.now();
        }
        return Date.now() - quietSince > 300;
      },
      10_000,
      `broker ${i} idle`,
    );
    await move([i], inPool('active'));
    fences.delete(i);
    pool.delete(i);
    apply();
    await brokers[i]?.kill('SIGTERM');
  };
  for (const event of schedule.events) {
    await sleep(Math.max(0, started + event.atMs - Date.now()));
    await run(event);
  }

  // Every acknowledgement, within a bound; then deliveries settle.
  await within(publishing, 15_000, 'every acknowledgement').catch(() => undefined); // the judge reports what is missing
  const expected = schedule.publishes.flat().filter((p) => p.qos > 0 && !p.clear).length;
  await waitFor(
    () => received.every((r) => [...r.keys()].filter((k) => !k.endsWith(':0')).length >= expected),
    3000,
    'deliveries',
  ).catch(() => undefined);
  await sleep(200);

  // Retained: what a new subscriber gets.
  const retained = new Map<string, string[]>();
  const probe = await connectClient(t, url, { protocolVersion: 4 }, (c) =>
    c.on('message', (topic, payload, packet) => {
      if (packet.retain) retained.set(topic, [...(retained.get(topic) ?? []), payload.toString()]);
    }),
  );
  await probe.subscribeAsync(`s${seed}/r/#`, { qos: 1 });
  await sleep(300);

  // The persistent sessions end (clean start), so the brokers shared by later seeds do not keep them.
  for (const c of [...subs, ...pubs, probe]) await c.endAsync(true);
  for (let i = 0; i < SUBSCRIBERS.length; i++) {
    if (!SUBSCRIBERS[i]?.persistent) continue;
    const c = await connectClient(t, url, { ...subOptions(i), clean: true, properties: {} });
    await c.endAsync();
  }

  const seen: Observed = { acknowledged, received, retained, lastKillSentAtMs, storableAtMs };
  const problems = judge(
    schedule,
    seen,
    {
      acknowledgements: true,
      // QoS 2 exactly once, but after a broker's death: limits.qos2OnBrokerLoss 'resend' (the default)
      // re-sends what that broker had PUBREC'd, so a duplicate is allowed then (h3).
      qos2ExactlyOnce: lastKillSentAtMs === undefined,
      retained: CHECK_RETAINED,
    },
    SUBSCRIBERS.map((s) => s.name),
  );
  // The watch above must have seen every acknowledged retained flow, or the judge would excuse it.
  for (const p of schedule.publishes.flat())
    if (p.retainKey !== undefined && acknowledged.has(keyOf(p)) && !storableAtMs.has(keyOf(p)))
      problems.push(`retained ${keyOf(p)}: acknowledged, but its PUBLISH/PUBREL was not seen`);
  const dups = received.map((r) => [...r.values()].filter((n) => n > 1).length);
  t.diagnostic(
    `seed ${seed}: pool ${JSON.stringify(schedule.initial)} events ${schedule.events.map((e) => e.kind).join(',')}; ` +
      `acked ${acknowledged.size}; duplicates per subscriber ${dups.join('/')}; problems ${problems.length}`,
  );
  return problems.slice(0, 20);
}
