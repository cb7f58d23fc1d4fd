import { mkdir, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { crossableTempDir } from '../../common/os-user.ts';
import { generateTrace } from '../taxi-rome/generator.ts';
import { runPublishers } from '../taxi-rome/publisher.ts';
import type { TaxiRecord } from '../taxi-rome/record.ts';
import { splitShares } from '../taxi-rome/shares.ts';
import { Subscribers } from '../taxi-rome/subscriber.ts';
import { resolveTarget } from '../taxi-rome/target.ts';
import { ChaosDeployment } from './deployment.ts';
import { inject } from './faults.ts';
import { Ledger } from './ledger.ts';
import { overlappingCreates } from './relayed-provider.ts';
import { type ChaosReport, failuresOf, formatReport } from './report.ts';
import { describeFault, type FaultKind, planFaults, type ScheduleOptions } from './schedule.ts';

export interface ChaosOptions {
  seed: number;
  minutes: number;
  /** Publishes per second, all publishers together. */
  ratePerSecond: number;
  /** SIGSTOP length: longer than the orchestrators' upstream keepalive (30 s) × 1.5 by default. */
  stopSeconds: number;
  /** Where the report, the config and the manager's logs go; a temp dir (removed on a pass) when absent. */
  out: string | undefined;
  /** Only these fault kinds (all when absent). */
  kinds?: readonly FaultKind[];
  /** Shorter faults and gaps than the defaults (QUICK_SCHEDULE: the CI run). */
  schedule?: Partial<Pick<ScheduleOptions, 'gapMs' | 'degradeMs' | 'managerDownMs' | 'blackholeMs'>>;
  log: (line: string) => void;
}

const NAME = 'mqtt.brokel.test';

/**
 * `--quick` (and the CI test): every fault once in under a minute: 1–2 s gaps, 3 s of delay and of
 * throttling, the manager down 2 s; the partition stays 10 s. The SIGSTOP is given separately.
 */
export const QUICK_SCHEDULE = {
  gapMs: { min: 1000, max: 2000 },
  degradeMs: 3000,
  managerDownMs: 2000,
  blackholeMs: 10_000,
} as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round2 = (values: number[]) => values.map((v) => Math.round(v * 100) / 100);

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The four subscriber flavours (issue 17): MQTT 3.1.1 and 5, clean and persistent, each on every topic. */
async function startSubscribers(records: readonly TaxiRecord[], d: ChaosDeployment, ledger: Ledger) {
  const urls = await resolveTarget({ dns: d.dnsServer, name: NAME, port: 1883 });
  const flavours = [
    { v: 4, persistent: false },
    { v: 4, persistent: true },
    { v: 5, persistent: false },
    { v: 5, persistent: true },
  ] as const;
  return Promise.all(
    flavours.map(async (f) => {
      const name = `v${f.v}-${f.persistent ? 'persistent' : 'clean'}`;
      const index = ledger.addSubscriber(name, f.persistent);
      return Subscribers.start([records], {
        urls,
        qos: 1,
        follow: { dns: d.dnsServer, name: NAME },
        persistent: f.persistent,
        protocolVersion: f.v,
        clientIdPrefix: `chaos-${process.pid}-${name}`,
        observe: {
          message: (_i, topic, seq, at) => ledger.delivered(index, topic, seq, at),
          connected: (_i, at) => ledger.connected(index, at),
          closed: (_i, at) => ledger.closed(index, at),
        },
      });
    }),
  );
}

/** Two publishers, MQTT 3.1.1 and 5, each replaying half the taxis at half the rate, QoS 1, through the DNS name. */
async function publish(records: readonly TaxiRecord[], o: ChaosOptions, d: ChaosDeployment, ledger: Ledger) {
  const urls = await resolveTarget({ dns: d.dnsServer, name: NAME, port: 1883 });
  const shares = splitShares(records, 2);
  const observe = {
    sent: (topic: string, seq: number, at: number) => ledger.sent(topic, seq, at),
    acked: (topic: string, seq: number, at: number) => ledger.acked(topic, seq, at),
  };
  return Promise.all(
    ([4, 5] as const).map((v, i) =>
      runPublishers([shares[i] ?? []], {
        urls,
        qos: 1,
        pacing: { kind: 'rate', perSecond: o.ratePerSecond / 2 },
        follow: { dns: d.dnsServer, name: NAME },
        protocolVersion: v,
        clientIdPrefix: `chaos-${process.pid}-pub-v${v}`,
        ackTimeoutMs: 120_000,
        observe,
      }),
    ),
  );
}

/** Until every subscriber has what it is owed, or nothing new arrived for idleMs, or maxMs passed. */
async function settle(ledger: Ledger, idleMs: number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = -1;
  let lastChange = Date.now();
  while (Date.now() < deadline) {
    const s = ledger.summary();
    if (s.lost === 0) return;
    const received = s.subscribers.reduce((a, t) => a + t.received, 0);
    if (received !== last) {
      last = received;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > idleMs) return;
    await sleep(1000);
  }
}

/** Replicas the provider runs (not failed) that the manager does not list, once it had time to converge. */
async function orphans(d: ChaosDeployment): Promise<string[]> {
  let found: string[] = [];
  for (let i = 0; i < 20; i++) {
    const known = new Set((await d.status().catch(() => [])).map((r) => r.id));
    found = (await d.local.list()).filter((r) => r.state !== 'failed' && !known.has(r.id)).map((r) => r.id);
    if (found.length === 0) return found;
    await sleep(1000);
  }
  return found;
}

/** One seeded chaos run: the system up, traffic through the faults, the report. */
export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const before = round2(loadavg());
  // The state folder is in it, and a broker run as root opens its files there as its own user.
  const dir = o.out ?? (await crossableTempDir('brokel-chaos-'));
  await mkdir(dir, { recursive: true });
  const d = await ChaosDeployment.start({
    dir,
    deployment: `chaos${process.pid}s${o.seed}`,
    brokers: { min: 2, max: 4, cpuQuota: 0.5 },
    orchestrators: { min: 2, max: 3 },
    intervalSeconds: 1,
  });
  const timeline: string[] = [];
  const faultWindows: ChaosReport['faultWindows'] = [];
  const ledger = new Ledger();
  let subs: Subscribers[] = [];
  const pids = new Set<number>();
  try {
    await d.startManager();
    await d.waitReady(90_000);
    o.log(`chaos: deployment up in ${dir}`);
    const trafficMs = Math.round(o.minutes * 60_000);
    const records = [
      ...generateTrace({
        records: Math.max(1, Math.round((o.ratePerSecond * trafficMs) / 1000)),
        taxis: 40,
        seed: o.seed,
      }),
    ];
    subs = await startSubscribers(records, d, ledger);
    const start = Date.now();
    const mark = (what: string) => {
      const line = `${((Date.now() - start) / 1000).toFixed(1)} s ${what}`;
      timeline.push(line);
      o.log(`chaos: ${line}`);
    };
    const plan = planFaults({
      seed: o.seed,
      startMs: 3000,
      durationMs: Math.max(0, trafficMs - 3000),
      stopMs: o.stopSeconds * 1000,
      gapMs: { min: 2000, max: 6000 },
      ...(o.kinds ? { kinds: o.kinds } : {}),
      ...o.schedule,
    });
    let trafficOver = false;
    const faults = (async () => {
      for (const e of plan) {
        await sleep(start + e.atMs - Date.now());
        if (trafficOver) {
          mark(`${describeFault(e)}: skipped, the traffic is over (the faults before ran late)`);
          continue;
        }
        for (const r of await d.local.list()) pids.add(await d.pidOf(r.id).catch(() => 0));
        const from = Date.now();
        const what = await inject(d, e).catch((err: unknown) => `failed: ${String(err)}`);
        faultWindows.push({ kind: e.kind, from, to: Date.now(), what });
        mark(`${describeFault(e)} (began ${((from - start) / 1000).toFixed(1)} s): ${what}`);
      }
    })();
    const published = await publish(records, o, d, ledger);
    trafficOver = true;
    mark(`publishers done (${published.reduce((a, p) => a + p.acked, 0)} acknowledged)`);
    await faults;
    // A restart that never came up is a failure of the run, reported like any other (not a crash).
    const restartFailure = await d.managerRestarted().then(
      () => undefined,
      (err: unknown) => `manager restart failed: ${String(err)}`,
    );
    if (restartFailure) mark(restartFailure);
    await settle(ledger, 15_000, 60_000);
    mark('deliveries settled');
    const orphaned = await orphans(d);
    await d.provider.list(); // the latest ready and failed states into the create records
    const duplicateActions = overlappingCreates(d.provider.creates).map((c) => `${c.level} ${c.id}`);
    const creates = d.provider.creates.map((c) => ({
      ...c,
      requestedAt: c.requestedAt - start,
      readyAt: c.readyAt === undefined ? null : c.readyAt - start,
      goneAt: c.goneAt === undefined ? null : c.goneAt - start,
    }));
    for (const r of await d.local.list()) pids.add(await d.pidOf(r.id).catch(() => 0));
    await Promise.all(subs.map((s) => s.close()));
    subs = [];
    const managerStarts = d.managerStarts;
    await d.close();
    await sleep(500);
    const leftoverProcesses = [...pids].filter((p) => p > 0 && pidAlive(p));
    const partial = {
      seed: o.seed,
      minutes: o.minutes,
      ratePerSecond: o.ratePerSecond,
      loadAverage: { before, after: round2(loadavg()) },
      delivery: ledger.summary(),
      orphaned,
      duplicateActions,
      leftoverProcesses,
      managerStarts,
      timeline,
      faultWindows,
      creates,
    };
    const report: ChaosReport = { ...partial, failures: failuresOf(partial) };
    await writeFile(join(dir, 'chaos-report.json'), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(join(dir, 'chaos-report.txt'), formatReport(report));
    if (report.failures.length === 0 && o.out === undefined) await rm(dir, { recursive: true, force: true });
    else o.log(`chaos: report and logs in ${dir}`);
    return report;
  } finally {
    await Promise.all(subs.map((s) => s.close()));
    await d.close();
  }
}
