import type { MqttClient } from 'mqtt';
import { connectMqtt, endMqtt, type Follow, type QoS } from '../taxi-rome/mqtt-clients.ts';
import { preciseNow } from '../taxi-rome/payload.ts';
import { decodeLadder, encodeLadder, type LadderStep, type StepResult, StepTally } from './tally.ts';

/**
 * `brokel taxi ladder`: the loss ladder (issue 17) through the elastic system. One subscriber on
 * `ladder/<run>/#`; per step, P fresh publishers publish sequence-numbered messages at the step's
 * period (0: flat out, bounded by `inflight` unacknowledged each) for `stepSeconds`; then the step waits
 * (at most `settleSeconds`) for what was acknowledged to arrive and counts loss, duplicates,
 * reordering and latency, beside the most replicas the manager listed during the step.
 */
export interface LadderOptions {
  /** Client i connects to urls[i % urls.length]. */
  urls: readonly string[];
  follow?: Follow | undefined;
  protocolVersion: 4 | 5;
  qos: QoS;
  steps: readonly LadderStep[];
  stepSeconds: number;
  settleSeconds: number;
  inflight: number;
  /** The manager's API base (http://host:port), for the replica counts. */
  api?: string | undefined;
  runId: string;
  onStep?: (r: StepResult) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Replicas {
  brokers: number | undefined;
  orchestrators: number | undefined;
}

async function replicaCounts(api: string): Promise<Replicas> {
  const res = await fetch(`${api.replace(/\/$/, '')}/api/status`, { signal: AbortSignal.timeout(2000) });
  const body = (await res.json()) as { levels: Array<{ level: string; replicas: Array<{ state: string }> }> };
  const count = (level: string) =>
    body.levels.find((l) => l.level === level)?.replicas.filter((r) => r.state !== 'failed').length;
  return { brokers: count('broker'), orchestrators: count('orchestrator') };
}

/** Publishes seq 0, 1, … on `topic` at `periodMs` until `endAt`, at most `inflight` unacknowledged. */
async function publishUntil(
  client: MqttClient,
  topic: string,
  o: LadderOptions,
  periodMs: number,
  endAt: number,
  tally: StepTally,
): Promise<void> {
  const start = Date.now();
  let inflight = 0;
  let wake: (() => void) | undefined;
  for (let seq = 0; Date.now() < endAt; seq++) {
    if (periodMs > 0) {
      const wait = start + seq * periodMs - Date.now();
      if (wait >= 1) await sleep(wait);
      if (Date.now() >= endAt) break;
    }
    while (o.qos > 0 && inflight >= o.inflight) await new Promise<void>((r) => (wake = r));
    tally.onSent();
    const payload = encodeLadder(seq, preciseNow());
    if (o.qos === 0) {
      client.publish(topic, payload, { qos: 0 });
      tally.onAcked(topic, seq);
      if (client.stream.writableNeedDrain) await new Promise((r) => client.stream.once('drain', r));
      else if (seq % 256 === 255) await new Promise((r) => setImmediate(r));
      continue;
    }
    inflight += 1;
    client.publish(topic, payload, { qos: o.qos }, (err) => {
      inflight -= 1;
      if (!err) tally.onAcked(topic, seq);
      const w = wake;
      wake = undefined;
      w?.();
    });
  }
  const deadline = Date.now() + o.settleSeconds * 1000;
  while (inflight > 0 && Date.now() < deadline) await sleep(20);
}

async function runStep(step: LadderStep, o: LadderOptions, tally: StepTally): Promise<StepResult> {
  const seen: Replicas = { brokers: undefined, orchestrators: undefined };
  const poll = async () => {
    if (!o.api) return;
    const now = await replicaCounts(o.api).catch(() => undefined);
    if (!now) return;
    seen.brokers = Math.max(seen.brokers ?? 0, now.brokers ?? 0);
    seen.orchestrators = Math.max(seen.orchestrators ?? 0, now.orchestrators ?? 0);
  };
  await poll();
  const timer = setInterval(() => void poll(), 1000);
  try {
    const publishers = await Promise.all(
      Array.from({ length: step.publishers }, (_, i) =>
        connectMqtt(
          o.urls[i % o.urls.length] as string,
          { clientId: `${o.runId}-s${step.index}-p${i}`, clean: true, protocolVersion: o.protocolVersion },
          o.follow ? { ...o.follow, index: i } : undefined,
        ),
      ),
    );
    const startedAt = Date.now();
    const endAt = startedAt + o.stepSeconds * 1000;
    try {
      await Promise.all(
        publishers.map((c, i) =>
          publishUntil(c, `ladder/${o.runId}/${step.index}/${i}`, o, step.periodMs, endAt, tally),
        ),
      );
    } finally {
      await Promise.all(publishers.map((c) => endMqtt(c)));
    }
    const seconds = (Date.now() - startedAt) / 1000;
    const deadline = Date.now() + o.settleSeconds * 1000;
    while (tally.missing() > 0 && Date.now() < deadline) await sleep(50);
    await poll();
    return tally.result(step, seconds, seen);
  } finally {
    clearInterval(timer);
  }
}

export async function runLadder(o: LadderOptions): Promise<StepResult[]> {
  const tallies = o.steps.map(() => new StepTally());
  const subscriber = await connectMqtt(
    o.urls[0] as string,
    { clientId: `${o.runId}-sub`, clean: true, protocolVersion: o.protocolVersion },
    o.follow ? { ...o.follow, index: 0 } : undefined,
  );
  try {
    subscriber.on('message', (topic, payload) => {
      const m = decodeLadder(payload);
      const step = Number(topic.split('/')[2]);
      const tally = tallies[step];
      if (m && tally) tally.onMessage(topic, m.seq, m.sentAt, preciseNow());
    });
    await subscriber.subscribeAsync(`ladder/${o.runId}/#`, { qos: o.qos });
    const results: StepResult[] = [];
    for (const step of o.steps) {
      const result = await runStep(step, o, tallies[step.index] as StepTally);
      results.push(result);
      o.onStep?.(result);
    }
    return results;
  } finally {
    await endMqtt(subscriber);
  }
}
