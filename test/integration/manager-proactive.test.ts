import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { OrchestratorClient } from '../../manager/orchestrator-client.ts';
import { cliLoad } from '../helpers/cli-load.ts';
import { startManagerOn } from '../helpers/remote-provider.ts';
import { startProvider, waitFor } from '../helpers/resources.ts';

// Tolerance for a quota-capped replica's reading: CFS enforces the quota per 100 ms period, so over a
// reading interval Δ the group may use up to quota × (Δ + 0.1 s), plus what it runs before the throttle
// notices the quota is spent, up to one scheduler tick (4 ms at CONFIG_HZ=250: 4 % of a 0.1-core quota
// over 1 s; cpu-reading.test.ts). At Δ = 1 s that is 1.14 of the quota (a CI run read 1.12 once both
// brokers ran at their quota).
const INTERVAL_S = 1;
const QUOTA = 0.1;
const MAX_READING = 1 + (0.1 + 0.004 / QUOTA) / INTERVAL_S;
// A booting broker takes this long, so a scale-out that held the monitoring loop would leave a gap
// between ticks at least this long. Ticks come one interval apart, or later by scheduling delay on a
// busy 2-core machine (one CI run: a tick 0.88 s late, the next one on time), or two intervals apart when
// a tick overran its slot and the manager skipped it by design (ticks never run late; another CI run:
// gaps 1.00, 1.00, 1.00, 2.04 s). So the gap allowed is under three intervals, and the boot longer.
const BOOT_S = 5;
const MAX_GAP_S = 3 * INTERVAL_S;

interface LogLine {
  time: string;
  tick?: number;
  level: string;
  decision?: string;
  reason?: string;
  cpu?: Record<string, number | null>;
  states?: Record<string, string>;
  forecast?: number | null;
  action?: string;
  outcome?: string;
  seconds?: number;
}

describe('manager: proactive policy end to end on the local provider (issue 11, defects 3 and 4)', () => {
  it('scales a saturated, quota-capped broker level out on the forecast; readings stay within the quota, forecasts within [0, 1], ticks periodic during the scale-out, no remove after the add', async (t) => {
    const provider = await startProvider(t, { bootDelaySeconds: BOOT_S });
    const { decisionLog, config } = await startManagerOn(t, provider, {
      policy: 'proactive',
      monitor: { intervalSeconds: INTERVAL_S, warmupObservations: 2 },
      proactive: { beta: 0.5, horizonObservations: 2 },
      levels: {
        brokers: { lower: 0.2, upper: 0.6, min: 1, max: 2, cpuQuota: QUOTA },
        orchestrators: { min: 1, max: 1 },
      },
      manager: { drainQuietSeconds: 0.5 },
    });
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    if (!orchestrator) throw new Error('no orchestrator');
    cliLoad(t, orchestrator.host, orchestrator.port);
    const brokers = async () =>
      (await provider.list()).filter((r) => r.level === 'broker' && r.state === 'ready');
    await waitFor(async () => (await brokers()).length >= 2, 45_000, 'a second broker, ready');
    const read = async () => {
      await decisionLog.flush();
      return (await readFile(decisionLog.file, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as LogLine);
    };
    await waitFor(
      async () => (await read()).some((l) => l.level === 'broker' && l.action === 'add' && l.outcome),
      30_000,
      'the add to finish',
    );
    await new Promise((r) => setTimeout(r, 3 * INTERVAL_S * 1000)); // ticks after the add, load still on
    const lines = await read();
    const broker = lines.filter((l) => l.level === 'broker' && l.decision !== undefined);
    const add = broker.find((l) => l.decision === 'add');
    assert.ok(add, 'an add');
    assert.match(add.reason ?? '', /^forecast /, 'decided on the forecast');
    const removes = broker.filter((l) => l.decision === 'remove').map((l) => l.reason);
    // Where the load went if it faded: the orchestrator's own view of its brokers (state, publishes).
    const status =
      removes.length === 0
        ? ''
        : await new OrchestratorClient(
            `http://${orchestrator.host}:${orchestrator.ports.admin}`,
            config.manager.adminToken ?? '',
          )
            .status()
            .then((s) => JSON.stringify(s.brokers))
            .catch((err) => String(err));
    assert.deepEqual(
      removes,
      [],
      `no remove while the load goes on; the orchestrator's brokers: ${status}\nthe broker level's observations:\n${broker
        .map(
          (l) =>
            `${l.tick} ${l.decision} cpu ${JSON.stringify(l.cpu)} forecast ${l.forecast} states ${JSON.stringify(l.states)}`,
        )
        .join('\n')}`,
    );
    const forecasts = broker.map((l) => l.forecast).filter((f): f is number => typeof f === 'number');
    assert.ok(forecasts.length >= 3);
    assert.ok(
      forecasts.every((f) => f >= 0 && f <= 1),
      `forecasts: ${forecasts.map((f) => f.toFixed(2))}`,
    );
    const readings = broker.flatMap((l) => Object.values(l.cpu ?? {})).filter((v): v is number => v !== null);
    assert.ok(
      readings.some((v) => v > 0.8),
      `the level was saturated: ${readings.map((v) => v.toFixed(2))}`,
    );
    assert.ok(
      readings.every((v) => v <= MAX_READING),
      `a reading above ${MAX_READING}: ${readings.map((v) => v.toFixed(2))}`,
    );
    // Periodic while the add ran: the ticks between its decision and its outcome came about one interval
    // apart, never as far apart as the add took (it lasts longer than MAX_GAP_S: asserted, so a loop
    // that waited for it would fail here).
    const done = lines.find((l) => l.level === 'broker' && l.action === 'add' && l.outcome !== undefined);
    assert.ok(done, 'the add finished');
    assert.ok((done.seconds ?? 0) > MAX_GAP_S + 0.5, `the add took ${done.seconds} s`);
    const during = broker
      .filter((l) => (l.tick ?? 0) >= (add.tick ?? 0) && (l.tick ?? 0) <= (done.tick ?? 0))
      .map((l) => Date.parse(l.time));
    assert.ok(
      during.length >= Math.floor((done.seconds ?? 0) / INTERVAL_S) - 2, // a skipped slot or two
      `${during.length} ticks during a scale-out of ${done.seconds} s`,
    );
    const gaps = during.slice(1).map((x, i) => (x - (during[i] ?? x)) / 1000);
    assert.ok(
      gaps.every((g) => g < MAX_GAP_S),
      `gaps between ticks during the scale-out: ${gaps.map((g) => g.toFixed(2))} s`,
    );
    t.diagnostic(
      `forecasts ${forecasts.map((f) => f.toFixed(2)).join(' ')}; readings max ${Math.max(...readings).toFixed(3)}`,
    );
  });
});
