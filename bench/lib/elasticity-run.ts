import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { validate } from '../../common/config/load.ts';
import { type BrokelConfigInput, configSchema } from '../../common/config/schema.ts';
import { silentLogger } from '../../common/logger.ts';
import { assembleControlPlane } from '../../manager/control-plane.ts';
import { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import type { StepPoint } from '../../manager/quality/step-series.ts';
import { atBenchExit } from './exit-cleanup.ts';

/**
 * One real elasticity run for bench:elasticity: the control plane over the local provider (real
 * Mosquitto brokers with a CPU quota, one orchestrator), QoS 0 load through the orchestrator following
 * `rateAt`, supply (active brokers) sampled every 250 ms, delivery p99 per second from a subscriber.
 * The load loop is bounded by `seconds`.
 */
export interface RunSeries {
  offered: StepPoint[];
  supply: StepPoint[];
  billed: StepPoint[];
  p99Ms: StepPoint[];
  sent: number;
  received: number;
}

export async function elasticityRun(o: {
  name: string;
  policy: 'reactive' | 'proactive' | 'hpa';
  seconds: number;
  rateAt: (s: number) => number;
  config: BrokelConfigInput;
}): Promise<RunSeries> {
  const dir = await mkdtemp(join(tmpdir(), `brokel-el-${o.name}-`));
  const token = 'bench-elasticity-token-0123';
  const config = validate(configSchema, {
    ...o.config,
    policy: o.policy,
    manager: { ...o.config.manager, adminToken: token },
  });
  const provider = await LocalProvider.start({
    deployment: config.deployment,
    config: config.provider.local,
  });
  const forgetProvider = atBenchExit(() => provider.stop());
  const { manager, topology, decisionLog } = assembleControlPlane({
    provider,
    config: () => config,
    decisionLogFile: join(dir, 'decisions.jsonl'),
    adminToken: token,
    log: silentLogger(),
  });
  const forgetManager = atBenchExit(() => manager.stop());
  const out: RunSeries = { offered: [], supply: [], billed: [], p99Ms: [], sent: 0, received: 0 };
  let sampler: NodeJS.Timeout | undefined;
  try {
    await manager.start();
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    if (!orchestrator) throw new Error('no orchestrator');
    const sub = await mqtt.connectAsync(orchestrator.url, { reconnectPeriod: 0 });
    const pub = await mqtt.connectAsync(orchestrator.url, { reconnectPeriod: 0 });
    const latencies: number[][] = [];
    const started = Date.now();
    sub.on('message', (_topic, payload) => {
      out.received += 1;
      const second = Math.floor((Date.now() - started) / 1000);
      const bucket = latencies[second] ?? [];
      latencies[second] = bucket;
      bucket.push(Date.now() - payload.readDoubleBE(0));
    });
    await sub.subscribeAsync('el/#', { qos: 0 });
    const sample = async () => {
      const t = (Date.now() - started) / 1000;
      const brokers = (await provider.list()).filter((r) => r.level === 'broker');
      const active = brokers.filter(
        (r) => r.state === 'ready' && topology.brokerStates.get(r.id) === 'active',
      );
      out.supply.push({ t, v: active.length });
      out.billed.push({ t, v: brokers.filter((r) => r.state !== 'failed').length });
    };
    await sample();
    sampler = setInterval(() => void sample().catch(() => undefined), 250);
    let due = 0;
    while (Date.now() - started < o.seconds * 1000) {
      const s = (Date.now() - started) / 1000;
      const rate = o.rateAt(s);
      if (out.offered.at(-1)?.v !== rate) out.offered.push({ t: s, v: rate });
      due += rate / 100; // per 10 ms
      const payload = Buffer.alloc(100, 'x'); // one per batch: queued publishes keep their own send time
      payload.writeDoubleBE(Date.now(), 0);
      for (; due >= 1; due -= 1) {
        pub.publish(`el/${out.sent++ % 16}`, payload, { qos: 0 });
      }
      if (pub.stream.writableNeedDrain) await new Promise((r) => pub.stream.once('drain', r));
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 500));
    await Promise.all([sub.endAsync(), pub.endAsync()]);
    latencies.forEach((xs, second) => {
      const sorted = xs.sort((a, b) => a - b);
      out.p99Ms.push({
        t: second,
        v: sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] ?? 0,
      });
    });
  } finally {
    if (sampler) clearInterval(sampler);
    await manager.stop();
    await decisionLog.flush();
    await provider.stop();
    forgetManager();
    forgetProvider();
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}
