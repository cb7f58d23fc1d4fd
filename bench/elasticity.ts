// Elasticity on this machine: (1) a load ramp through `brokel up`'s control plane, read back from the
// decision log (observations, actions, time from the threshold crossing to the new broker active);
// (2) the same spiky load under α = 0.5 and under a raw-threshold controller (α = 1), counting actions.
// `npm run bench:elasticity [-- --interval 1 --spike-seconds 60]`. Every load loop is bounded in time.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { validate } from '../common/config/load.ts';
import { type BrokelConfigInput, configSchema } from '../common/config/schema.ts';
import { silentLogger } from '../common/logger.ts';
import { assembleControlPlane } from '../manager/control-plane.ts';
import { LocalProvider } from '../manager/providers/local/local-provider.ts';

const { values } = parseArgs({
  options: {
    interval: { type: 'string', default: '1' },
    'ramp-seconds': { type: 'string', default: '40' },
    'spike-seconds': { type: 'string', default: '60' },
    'burst-observations': { type: 'string', default: '0.8' },
    'skip-ramp': { type: 'boolean', default: false },
  },
});
const intervalSeconds = Number(values.interval);

interface LogLine {
  time: string;
  tick: number;
  level: string;
  decision?: string;
  load?: number | null;
  rawLoad?: number | null;
  upper?: number;
  action?: string;
  outcome?: string;
  seconds?: number;
}

/** Runs the control plane (local provider, real Mosquitto and orchestrator) under a rate pattern. */
async function scenario(name: string, alpha: number, seconds: number, rateAt: (s: number) => number) {
  const dir = await mkdtemp(join(tmpdir(), `brokel-elastic-${name}-`));
  const input: BrokelConfigInput = {
    deployment: `el${process.pid}${name}`,
    monitor: { intervalSeconds, warmupObservations: 2 },
    smoothing: { alpha },
    levels: {
      brokers: { lower: 0.3, upper: 0.7, min: 1, max: 3, cpuQuota: 0.1 },
      orchestrators: { min: 1, max: 1 },
    },
    provider: { local: { addressBlock: '127.45' } },
    manager: { drainQuietSeconds: 0.5, adminToken: 'bench-elasticity-token-0123' },
  };
  const config = validate(configSchema, input);
  const provider = await LocalProvider.start({
    deployment: config.deployment,
    config: config.provider.local,
  });
  const file = join(dir, 'decisions.jsonl');
  const { manager, decisionLog } = assembleControlPlane({
    provider,
    config: () => config,
    decisionLogFile: file,
    adminToken: 'bench-elasticity-token-0123',
    log: silentLogger(),
  });
  let sent = 0;
  try {
    await manager.start();
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    if (!orchestrator) throw new Error('no orchestrator');
    const sub = await mqtt.connectAsync(orchestrator.url, { reconnectPeriod: 0 });
    await sub.subscribeAsync('el/#', { qos: 0 });
    const pub = await mqtt.connectAsync(orchestrator.url, { reconnectPeriod: 0 });
    const payload = Buffer.alloc(100, 'x');
    const started = Date.now();
    while (Date.now() - started < seconds * 1000) {
      const elapsed = (Date.now() - started) / 1000;
      const due = Math.floor(rateAt(elapsed) / 100); // per 10 ms
      for (let i = 0; i < due; i++) pub.publish(`el/${sent++ % 16}`, payload, { qos: 0 });
      if (pub.stream.writableNeedDrain) await new Promise((r) => pub.stream.once('drain', r));
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all([sub.endAsync(), pub.endAsync()]);
  } finally {
    await manager.stop();
    await decisionLog.flush();
    await provider.stop();
  }
  const lines = (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as LogLine);
  await rm(dir, { recursive: true, force: true });
  return { lines, sent };
}

function summarise(lines: LogLine[]) {
  const brokers = lines.filter((l) => l.level === 'broker');
  const decisions = brokers.filter((l) => l.decision !== undefined);
  const adds = decisions.filter((l) => l.decision === 'add').length;
  const removes = decisions.filter((l) => l.decision === 'remove').length;
  const actions = brokers.filter((l) => l.action !== undefined);
  return { observations: decisions.length, adds, removes, actions };
}

// (1) Ramp: 0 → 30k msg/s over the ramp, then held.
async function rampReport(): Promise<void> {
  const rampSeconds = Number(values['ramp-seconds']);
  const ramp = await scenario('ramp', 0.5, rampSeconds, (s) =>
    Math.min(30_000, (s / (rampSeconds * 0.6)) * 30_000),
  );
  const r = summarise(ramp.lines);
  console.log(
    `ramp (α = 0.5, interval ${intervalSeconds} s, Mosquitto at 0.1 core, max 3): ${ramp.sent} messages`,
  );
  console.log('  tick  raw load  smoothed  decision');
  for (const l of ramp.lines.filter((x) => x.level === 'broker' && x.decision !== undefined)) {
    console.log(
      `  ${String(l.tick).padStart(4)}  ${(l.rawLoad ?? Number.NaN).toFixed(3).padStart(8)}  ${(l.load ?? Number.NaN).toFixed(3).padStart(8)}  ${l.decision}`,
    );
  }
  const crossing = ramp.lines.find((l) => l.level === 'broker' && (l.rawLoad ?? 0) > (l.upper ?? 1));
  const firstAdd = ramp.lines.find((l) => l.level === 'broker' && l.action === 'add' && l.outcome === 'done');
  if (crossing && firstAdd) {
    const seconds = (Date.parse(firstAdd.time) - Date.parse(crossing.time)) / 1000;
    console.log(
      `  raw load first above upper at tick ${crossing.tick}; first new broker active ${seconds.toFixed(1)} s later (the add itself took ${firstAdd.seconds?.toFixed(1)} s)`,
    );
  }
  console.log(
    `  decisions: ${r.adds} add, ${r.removes} remove; actions: ${r.actions.map((a) => `${a.action} ${a.outcome} ${a.seconds?.toFixed(1)} s`).join('; ')}`,
  );
}
if (!values['skip-ramp']) await rampReport();

// (2) Spiky load: a burst of `burst-observations` every 5 observations, under α = 0.5 and α = 1.
const spikeSeconds = Number(values['spike-seconds']);
const burst = Number(values['burst-observations']);
const spiky = (s: number) => ((s / intervalSeconds) % 5 < burst ? 30_000 : 500);
const results: Array<[string, ReturnType<typeof summarise>]> = [];
for (const alpha of [0.5, 1]) {
  const run = await scenario(`a${alpha * 10}`, alpha, spikeSeconds, spiky);
  results.push([`α = ${alpha}`, summarise(run.lines)]);
}
console.log(
  `\nspiky load (bursts of ${burst} observation(s) every 5, ${spikeSeconds} s, same machine, same pattern):`,
);
for (const [label, s] of results) {
  console.log(
    `  ${label.padEnd(8)} observations ${s.observations}, scaling decisions: ${s.adds} add + ${s.removes} remove = ${s.adds + s.removes}`,
  );
}
