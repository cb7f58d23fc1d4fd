// test-timeout-ms: 600000
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseDecisionLog } from '../../workload/taxi-rome/decision-log-read.ts';
import { type ScenarioReport, TABLE_COLUMNS } from '../../workload/taxi-rome/report.ts';
import { findBaseline } from '../../workload/taxi-rome/report-files.ts';
import { runScenario } from '../../workload/taxi-rome/scenario-run.ts';
import { scenarioSpec } from '../../workload/taxi-rome/scenarios.ts';
import { mdTable } from '../helpers/markdown.ts';
import { processesOf } from '../helpers/resources.ts';

function checkConsistent(report: ScenarioReport, md: string, records: number): void {
  const d = report.delivery;
  assert.equal(report.publish.sent, records);
  assert.equal(report.publish.sent, d.received + d.lost, 'sent = received + lost');
  assert.equal(d.expected, report.publish.sent);
  assert.equal(d.received, records, 'every QoS 1 message was received');
  assert.equal(d.lost, 0);
  assert.equal(report.complete, true);
  const T = report.applicationSeconds;
  assert.ok(T > 0);
  assert.ok(
    Math.abs(report.cost - T * report.replicas.total.meanReplicas) < 1e-6,
    'cost = time × mean replicas',
  );
  assert.ok(Math.abs(report.replicas.total.replicaSeconds - report.cost) < 1e-6);
  assert.ok(
    Math.abs(
      report.replicas.total.meanReplicas -
        report.replicas.broker.meanReplicas -
        report.replicas.orchestrator.meanReplicas,
    ) < 1e-6,
  );
  assert.ok(Math.abs(report.messagesPerSecond - d.received / T) < 1e-6);
  const row = mdTable(md, '## Time, cost and efficiency').find((r) => r.Scenario === report.label);
  assert.ok(row, `report.md has a row for ${report.label}`);
  assert.deepEqual(Object.keys(row), [...TABLE_COLUMNS]);
  assert.equal(Number(row['Time (s)']), Number(T.toFixed(2)));
  assert.equal(Number(row['Messages/s']), Number(report.messagesPerSecond.toFixed(1)));
  assert.equal(Number(row['Cost (replica·s)']), Number(report.cost.toFixed(1)));
  assert.equal(Number(row['Mean brokers']), Number(report.replicas.broker.meanReplicas.toFixed(2)));
  const delivery = mdTable(md, '## Delivery')[0];
  assert.equal(Number(delivery?.Sent), report.publish.sent);
  assert.equal(Number(delivery?.Received), d.received);
  assert.equal(Number(delivery?.Lost), d.lost);
}

describe('taxi scenario (CI scale): s1 then s2-mosquitto, 20k fixes, 4 publishers, 4 subscribers, 1 s interval', () => {
  it('replays every QoS 1 message through the system, writes consistent reports, scales out, cleans up', async (t) => {
    const out = await mkdtemp(join(tmpdir(), 'taxi-scenario-'));
    t.after(() => rm(out, { recursive: true, force: true }));
    const load = { records: 20_000, publishers: 4, subscribers: 4, intervalSeconds: 1 };
    const common = { addressBlock: '127.48', idleSeconds: 20, drainTimeoutSeconds: 60 };

    const s1 = scenarioSpec('s1', load);
    const first = await runScenario({ ...common, spec: s1, outDir: join(out, s1.label) });
    const s1md = await readFile(join(out, 's1', 'report.md'), 'utf8');
    checkConsistent(first.report, s1md, 20_000);
    assert.equal(first.report.replicas.broker.maxReplicas, 1, 's1 is not elastic');
    assert.equal(first.report.efficiency.vsBaseline, null);

    const s2 = scenarioSpec('s2-mosquitto', { ...load, maxReplicas: 4 });
    const s2dir = join(out, s2.label);
    const baseline = await findBaseline(s2dir);
    assert.equal(baseline?.label, 's1', 'the s1 report in the parent folder is the baseline');
    const second = await runScenario({ ...common, spec: s2, outDir: s2dir, baseline });
    const r = second.report;
    for (const name of ['report.json', 'report.md', 'replicas.svg', 'load-broker.svg', 'decisions.jsonl'])
      assert.ok(existsSync(join(s2dir, name)), `${name} written`);
    const md = await readFile(join(s2dir, 'report.md'), 'utf8');
    checkConsistent(r, md, 20_000);
    // At most 4 brokers, every fix delivered: issue #14's cost target (below 5.24 mean brokers) is met.
    assert.match(
      md,
      new RegExp(
        `measured ${r.replicas.broker.meanReplicas.toFixed(2)} mean brokers, every fix delivered: met\\.`,
      ),
    );
    assert.deepEqual(
      JSON.parse(await readFile(join(s2dir, 'report.json'), 'utf8')),
      JSON.parse(JSON.stringify(r)),
    );

    // Against s1: both rows in the table, and the reduction is the one the two times give.
    const vs = r.efficiency.vsBaseline;
    assert.ok(vs);
    const expected = (1 - r.applicationSeconds / first.report.applicationSeconds) * 100;
    assert.ok(Math.abs(vs.timeReductionPercent - expected) < 1e-9);
    const rows = mdTable(md, '## Time, cost and efficiency');
    assert.deepEqual(
      rows.map((x) => x.Scenario),
      ['s1', s2.label],
    );
    assert.equal(Number(rows[1]?.['Time reduction vs s1 (%)']), Number(vs.timeReductionPercent.toFixed(1)));

    // Elasticity happened and the report's decisions are the decision log's.
    const log = parseDecisionLog(
      await readFile(join(s2dir, 'decisions.jsonl'), 'utf8'),
      Date.parse(r.startedAt),
    );
    const adds = log.observations.filter((o) => o.level === 'broker' && o.decision === 'add').length;
    assert.equal(r.decisions.broker?.add, adds);
    assert.ok(adds >= 1, 'the saturated broker level scaled out');
    assert.ok(r.replicas.broker.maxReplicas >= 2);
    assert.ok(r.observations.some((o) => o.rawLoad !== null && o.load !== null && o.upper === 0.7));
    const svg = await readFile(join(s2dir, 'load-broker.svg'), 'utf8');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal((svg.match(/<polyline /g) ?? []).length, 4, 'raw, smoothed, lower and upper');
    t.diagnostic(
      `s1 ${first.report.applicationSeconds.toFixed(2)} s (${first.report.messagesPerSecond.toFixed(0)} msg/s); ` +
        `${s2.label} ${r.applicationSeconds.toFixed(2)} s (${r.messagesPerSecond.toFixed(0)} msg/s), ` +
        `${vs.timeReductionPercent.toFixed(1)} % less, max ${r.replicas.broker.maxReplicas} brokers, p99 ${r.delivery.latencyMs.p99?.toFixed(1)} ms`,
    );

    // Nothing of either run is left running.
    assert.deepEqual(processesOf(`/brokel/sc${process.pid}-`), []);
  });
});
