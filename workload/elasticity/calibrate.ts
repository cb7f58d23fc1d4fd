import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoadGenerator } from '../../bench/lib/load-generator.ts';
import { validate } from '../../common/config/load.ts';
import { configSchema } from '../../common/config/schema.ts';
import { silentLogger } from '../../common/logger.ts';
import { assembleControlPlane } from '../../manager/control-plane.ts';
import { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import type { CapacityCurve } from '../../manager/quality/capacity-curve.ts';

/**
 * `brokel calibrate`: the capacity curve, measured (issue #14). For n = 1..maxBrokers Mosquitto (or
 * RabbitMQ) brokers with a CPU quota behind one orchestrator on the local provider, paced QoS 1 load
 * (or QoS 0) at rising rates (× `factor` per step) until delivery p99 exceeds the SLO or the pace is not kept;
 * the highest rate that held is n's point, with the brokers' mean CPU at it. Every step is bounded.
 */
export interface CalibrateOptions {
  template: string;
  cpuQuota: number;
  maxBrokers: number;
  sloMs: number;
  startRate: number;
  factor: number;
  maxSteps: number;
  stepSeconds: number;
  publishers: number;
  subscribers: number;
  qos: 0 | 1;
  addressBlock: string;
  onStep?: (line: string) => void;
}

export async function calibrate(o: CalibrateOptions): Promise<CapacityCurve> {
  const points: CapacityCurve['points'] = [];
  for (let n = 1; n <= o.maxBrokers; n++) {
    const point = await measureBrokers(n, o);
    if (point) points.push(point);
    else break; // n brokers held no rate at all: more will not be measured on this machine either
  }
  if (points.length === 0)
    throw new Error(`calibrate: not even ${o.startRate} msg/s held under ${o.sloMs} ms p99`);
  return {
    template: o.template,
    cpuQuota: o.cpuQuota,
    sloMs: o.sloMs,
    points,
    measuredAt: new Date().toISOString(),
  };
}

async function measureBrokers(
  n: number,
  o: CalibrateOptions,
): Promise<CapacityCurve['points'][number] | undefined> {
  const token = 'brokel-calibrate-token-0123456789';
  const config = validate(configSchema, {
    deployment: `cal${process.pid % 10000}n${n}`,
    monitor: { intervalSeconds: 3600, warmupObservations: 1 },
    levels: {
      brokers: { min: n, max: n, template: o.template, cpuQuota: o.cpuQuota },
      orchestrators: { min: 1, max: 1 },
    },
    sla: { maxReplicas: n + 1 },
    provider: { local: { addressBlock: o.addressBlock } },
    manager: { adminToken: token },
  });
  const provider = await LocalProvider.start({
    deployment: config.deployment,
    config: config.provider.local,
  });
  // The decisions go to a folder of their own, removed at the end: in the provider's state folder they
  // kept it from being removed (one folder left in /tmp/brokel per calibration).
  const scratch = await mkdtemp(join(tmpdir(), 'brokel-calibrate-'));
  const { manager, decisionLog } = assembleControlPlane({
    provider,
    config: () => config,
    decisionLogFile: join(scratch, 'decisions.jsonl'),
    adminToken: token,
    log: silentLogger(),
  });
  let load: LoadGenerator | undefined;
  try {
    await manager.start(); // fills both levels to their minimum, brokers active in the pool
    const replicas = await provider.list();
    const orchestrator = replicas.find((r) => r.level === 'orchestrator');
    const brokers = replicas.filter((r) => r.level === 'broker').map((r) => r.id);
    if (!orchestrator) throw new Error('calibrate: no orchestrator');
    load = await LoadGenerator.connect(
      { host: orchestrator.host, port: orchestrator.port },
      {
        publishers: o.publishers,
        subscribers: o.subscribers,
        payloadBytes: 100,
        qos: o.qos,
        windowPerPublisher: 2000,
        maxSamples: 200_000,
        clientIdPrefix: `cal${n}`,
        connectTimeoutMs: 10_000,
      },
    );
    let best: CapacityCurve['points'][number] | undefined;
    let rate = o.startRate * n;
    for (let step = 0; step < o.maxSteps; step++) {
      await provider.cpu(brokers); // starts the CPU window
      const r = await load.runPhase({
        rate,
        warmupMs: 500,
        measureMs: o.stepSeconds * 1000,
        maxMessages: Math.ceil(rate * (o.stepSeconds + 1) * 1.2),
        drainTimeoutMs: 2000,
        cpu: () => ({}),
      });
      const cpus = [...(await provider.cpu(brokers)).values()].filter((c): c is number => c !== undefined);
      const cpu = cpus.length > 0 ? cpus.reduce((a, b) => a + b, 0) / cpus.length : undefined;
      const held = r.p99Ms <= o.sloMs && r.rate >= 0.95 * rate && r.lost === 0;
      o.onStep?.(
        `${n} broker(s): ${Math.round(rate)} msg/s offered, ${Math.round(r.rate)} delivered, p99 ${r.p99Ms.toFixed(1)} ms, ` +
          `broker CPU ${cpu === undefined ? '?' : `${Math.round(cpu * 100)} %`}: ${held ? 'held' : 'not held'}`,
      );
      if (!held) break;
      best = {
        brokers: n,
        msgPerSecond: Math.round(rate),
        ...(cpu !== undefined ? { cpu: Math.min(1.5, cpu) } : {}),
      };
      rate *= o.factor;
    }
    return best;
  } finally {
    await load?.close().catch(() => undefined);
    await manager.stop();
    await decisionLog.flush();
    for (const r of await provider.list()) await provider.destroy(r.id).catch(() => undefined);
    await provider.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}
