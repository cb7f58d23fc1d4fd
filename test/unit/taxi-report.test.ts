import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validate } from '../../common/config/load.ts';
import { configSchema } from '../../common/config/schema.ts';
import { parseDecisionLog } from '../../workload/taxi-rome/decision-log-read.ts';
import {
  buildReport,
  loadSvg,
  type RunFacts,
  renderMarkdown,
  replicasSvg,
  SHORT_RUN_INTERVALS,
  shortRunNote,
} from '../../workload/taxi-rome/report.ts';
import { parseThresholds, SCENARIO_NAMES, scenarioSpec } from '../../workload/taxi-rome/scenarios.ts';
import { escapeXml, lineChart, niceTicks } from '../../workload/taxi-rome/svg.ts';
import {
  compactSamples,
  levelUsage,
  type ReplicaSample,
  replicaSeconds,
} from '../../workload/taxi-rome/timeline.ts';

const sample = (t: number, broker: number, orchestrator = 1): ReplicaSample => ({
  t,
  broker,
  orchestrator,
  brokerReady: broker,
  orchestratorReady: orchestrator,
});

describe('taxi scenarios', () => {
  it('parses thresholds in percent and refuses bad ones', () => {
    assert.deepEqual(parseThresholds('30-70'), { lower: 0.3, upper: 0.7 });
    assert.deepEqual(parseThresholds('50-90'), { lower: 0.5, upper: 0.9 });
    for (const bad of ['70-30', '30', '30-170', 'a-b', '30-30'])
      assert.throws(() => parseThresholds(bad), /--thresholds/);
  });

  it('every scenario gives a valid config; s1 is fixed, s2 elastic at the broker level, s3 at both with twice the load', () => {
    for (const name of SCENARIO_NAMES) validate(configSchema, scenarioSpec(name).config);
    const s1 = scenarioSpec('s1');
    assert.deepEqual([s1.records, s1.publishers, s1.subscribers], [400_000, 20, 20]);
    assert.equal(s1.config.levels?.brokers?.max, 1);
    assert.equal(s1.config.levels?.orchestrators?.max, 1);
    const s2 = scenarioSpec('s2-mosquitto', { maxReplicas: 10, thresholds: { lower: 0.5, upper: 0.9 } });
    assert.equal(s2.label, 's2-mosquitto-m10-t50-90');
    assert.deepEqual(
      [s2.config.levels?.brokers?.max, s2.config.levels?.brokers?.lower, s2.config.levels?.brokers?.upper],
      [10, 0.5, 0.9],
    );
    assert.equal(s2.config.levels?.orchestrators?.max, 1);
    assert.deepEqual(scenarioSpec('s2-mixed').config.levels?.brokers?.template, ['mosquitto', 'rabbitmq']);
    assert.equal(scenarioSpec('s2-rabbitmq').config.levels?.brokers?.template, 'rabbitmq');
    const s3 = scenarioSpec('s3');
    assert.deepEqual([s3.records, s3.publishers, s3.subscribers], [800_000, 40, 40]);
    assert.ok((s3.config.levels?.orchestrators?.max ?? 1) > 1);
    assert.ok(s3.config.levels?.orchestrators?.cpuQuota !== undefined, 'the orchestrator level can saturate');
    assert.equal(s3.clientsViaDns, true);
    assert.ok((s3.config.rebalance?.absThreshold ?? 100) < 40, 's3 balances its 80 sessions');
    assert.ok((s3.config.rebalance?.cooldownSeconds ?? 60) < 10, 'clients may move within a short run');
  });
});

describe('taxi timeline', () => {
  const samples = [sample(-2, 1), sample(0.5, 1), sample(4, 2), sample(6, 3), sample(9, 3)];
  it('integrates replicas as a step function over the application time', () => {
    // [0, 4): 1, [4, 6): 2, [6, 10]: 3 → 4 + 4 + 12 = 20
    assert.equal(replicaSeconds(samples, 'broker', 0, 10), 20);
    assert.equal(replicaSeconds(samples, 'orchestrator', 0, 10), 10);
    assert.equal(replicaSeconds(samples, 'broker', 5, 5), 0);
    assert.deepEqual(levelUsage(samples, 'broker', 0, 10), {
      replicaSeconds: 20,
      meanReplicas: 2,
      maxReplicas: 3,
    });
  });
  it('compacting keeps the changes, the first and the last sample', () => {
    assert.deepEqual(
      compactSamples(samples).map((s) => s.t),
      [-2, 4, 6, 9],
    );
  });
});

describe('taxi decision log and report', () => {
  const origin = Date.parse('2026-01-01T00:00:00Z');
  const log = [
    {
      time: '2026-01-01T00:00:01Z',
      tick: 1,
      level: 'broker',
      load: 0.5,
      rawLoad: 0.9,
      lower: 0.3,
      upper: 0.7,
      decision: 'none',
      reason: 'warm-up',
      states: { b1: 'ready' },
    },
    {
      time: '2026-01-01T00:00:02Z',
      tick: 2,
      level: 'broker',
      load: 0.8,
      rawLoad: 1,
      lower: 0.3,
      upper: 0.7,
      decision: 'add',
      reason: 'above upper',
      states: { b1: 'ready' },
    },
    {
      time: '2026-01-01T00:00:02.5Z',
      tick: 2,
      level: 'broker',
      action: 'add',
      outcome: 'done',
      seconds: 0.4,
    },
    {
      time: '2026-01-01T00:00:02Z',
      tick: 2,
      level: 'orchestrator',
      load: 0.1,
      rawLoad: 0.1,
      lower: 0.3,
      upper: 0.7,
      decision: 'none',
      reason: '',
      states: {},
    },
  ]
    .map((l) => JSON.stringify(l))
    .join('\n');

  it('reads observations and action outcomes; skips what is neither', () => {
    const parsed = parseDecisionLog(`${log}\nnot json\n{"x":1}\n`, origin);
    assert.equal(parsed.observations.length, 3);
    assert.deepEqual(parsed.observations[1] && { ...parsed.observations[1] }, {
      t: 2,
      tick: 2,
      level: 'broker',
      load: 0.8,
      rawLoad: 1,
      lower: 0.3,
      upper: 0.7,
      decision: 'add',
      reason: 'above upper',
      replicas: 1,
    });
    assert.deepEqual(parsed.actions, [
      { t: 2.5, tick: 2, level: 'broker', action: 'add', outcome: 'done', seconds: 0.4 },
    ]);
    assert.equal(parsed.skipped, 2);
  });

  const facts = (seconds: number, samples: ReplicaSample[]): RunFacts => {
    const parsed = parseDecisionLog(log, origin);
    return {
      name: 's2-mosquitto',
      label: 's2-mosquitto-m6-t30-70',
      description: 'test <run>',
      records: 1000,
      publishers: 2,
      subscribers: 2,
      qos: 1,
      settings: {},
      startedAt: new Date(origin).toISOString(),
      applicationSeconds: seconds,
      publish: { sent: 1000, acked: 1000, failed: 0, seconds, reconnects: 0 },
      delivery: {
        expected: 1000,
        received: 990,
        lost: 10,
        duplicates: 2,
        reordered: 1,
        unexpected: 0,
        latencyMs: { count: 990, mean: 3, p50: 2, p99: 9, max: 12 },
      },
      complete: false,
      samples,
      observations: parsed.observations,
      actions: parsed.actions,
      machine: { cores: 2, node: '20' },
    };
  };

  it('computes messages/s, cost = time × mean replicas, and the reduction against a baseline', () => {
    const base = buildReport({ ...facts(20, [sample(0, 1)]), name: 's1', label: 's1' });
    assert.equal(base.cost, 40);
    assert.equal(base.messagesPerSecond, 990 / 20);
    const r = buildReport(facts(10, [sample(-1, 1), sample(5, 3)]), {
      label: 's1',
      records: 1000,
      applicationSeconds: base.applicationSeconds,
      messagesPerSecond: base.messagesPerSecond,
      meanReplicas: base.replicas.total.meanReplicas,
      cost: base.cost,
    });
    // brokers: 5 s × 1 + 5 s × 3 = 20 replica·s; orchestrator 10; total 30 over 10 s.
    assert.equal(r.replicas.broker.replicaSeconds, 20);
    assert.equal(r.replicas.total.meanReplicas, 3);
    assert.equal(r.cost, 30);
    assert.equal(r.efficiency.vsBaseline?.timeReductionPercent, 50);
    assert.equal(r.efficiency.vsBaseline?.speedup, 2);
    assert.equal(r.efficiency.vsBaseline?.sameLoad, true);
    assert.equal(r.efficiency.vsBaseline?.throughputGainPercent, 100);
    assert.equal(r.efficiency.vsBaseline?.costRatio, 0.75);
    assert.ok(Math.abs((r.efficiency.vsBaseline?.parallelEfficiency ?? 0) - 2 / 1.5) < 1e-12);
    assert.deepEqual(r.decisions, {
      broker: { add: 1, remove: 0, none: 1 },
      orchestrator: { add: 0, remove: 0, none: 1 },
    });
    const md = renderMarkdown(r, base);
    assert.match(md, /\| s1 \| 20\.00 \| 49\.5 \| 1\.00 \| 1\.00 \| 40\.0 \|/);
    assert.match(
      md,
      /\| s2-mosquitto-m6-t30-70 \| 10\.00 \| 99\.0 \| 2\.00 \| 1\.00 \| 30\.0 \| 33\.0 \| 50\.0 \| 100\.0 \| 1\.33 \|/,
    );
    assert.doesNotMatch(md, /compares different loads/);
    const other = buildReport(
      { ...facts(10, [sample(0, 1)]), records: 2000 },
      {
        label: 's1',
        records: 1000,
        applicationSeconds: 20,
        messagesPerSecond: 49.5,
        meanReplicas: 2,
        cost: 40,
      },
    );
    assert.equal(other.efficiency.vsBaseline?.sameLoad, false);
    assert.match(renderMarkdown(other, base), /s1 replayed 1000 fixes and this run 2000/);
    assert.match(md, /Not every expected message arrived/);
    assert.match(md, /\| 1000 \| 1000 \| 990 \| 10 \| 2 \| 1 \| 0 \| 2\.00 \| 9\.00 \| 12\.00 \|/);
    // Issue #14's cost target, for s2 runs: 2 mean brokers, but 10 fixes lost, so not the same work.
    assert.match(
      md,
      /issue #14 cost target: mean brokers below the paper's best \(5\.24 mean VMs at 50\/90\) with every fix delivered; measured 2\.00 mean brokers, not every fix delivered: NOT MET\./,
    );
    const whole = buildReport({
      ...facts(10, [sample(0, 2)]),
      delivery: { ...facts(10, []).delivery, received: 1000, lost: 0 },
      complete: true,
    });
    assert.match(renderMarkdown(whole), /measured 2\.00 mean brokers, every fix delivered: met\./);
    assert.doesNotMatch(renderMarkdown(base), /cost target/, 's1 has no elasticity to judge');
  });

  it('says when an elastic run lasted too few monitoring intervals for its time reduction to mean much', () => {
    const run = (name: string, seconds: number, interval: number | undefined) =>
      buildReport({
        ...facts(seconds, [sample(0, 1)]),
        name,
        records: 200_000,
        settings: interval === undefined ? {} : { monitorIntervalSeconds: interval },
      });
    // Session 47's s2: 6.72 s with the scenario's 2 s interval.
    const short = run('s2-mosquitto', 6.72, 2);
    assert.equal(
      shortRunNote(short),
      'short run: 3.4 monitoring intervals of 2 s, too few for the manager to scale much, so the time ' +
        'reduction says little about elasticity; about --records 1200000 would last 20 intervals here',
    );
    assert.match(
      renderMarkdown(short),
      /\*\*short run: 3\.4 monitoring intervals of 2 s, .* 20 intervals here\.\*\*/,
    );
    assert.equal(SHORT_RUN_INTERVALS, 10);
    assert.equal(shortRunNote(run('s2-mosquitto', 20, 2)), undefined, '10 intervals are enough');
    assert.match(shortRunNote(run('s3', 19.9, 2)) ?? '', /^short run: 9\.9 monitoring intervals/);
    assert.equal(shortRunNote(run('s1', 6.72, 2)), undefined, 's1 does not scale');
    assert.equal(shortRunNote(run('s2-mosquitto', 6.72, undefined)), undefined, 'an older report');
    assert.doesNotMatch(renderMarkdown(run('s2-mosquitto', 60, 2)), /short run/);
  });

  it('draws the figures: replicas per level, and load with both thresholds and the decisions', () => {
    const r = buildReport(facts(10, [sample(-1, 1), sample(5, 3)]));
    const replicas = replicasSvg(r);
    assert.equal((replicas.match(/<polyline /g) ?? []).length, 4);
    const load = loadSvg(r, 'broker');
    assert.equal((load.match(/<polyline /g) ?? []).length, 4);
    assert.match(load, />\+1</, 'the add decision is marked');
    assert.match(load, /upper threshold/);
    assert.doesNotMatch(replicasSvg({ ...r, label: 'a<b' }), /a<b/, 'labels are escaped');
  });
});

describe('taxi svg', () => {
  it('escapes XML and picks round ticks', () => {
    assert.equal(escapeXml(`<a & 'b'>`), '&lt;a &amp; &apos;b&apos;&gt;');
    assert.deepEqual(niceTicks(0, 100, 5), [0, 20, 40, 60, 80, 100]);
    assert.deepEqual(niceTicks(0, 3, 5, true), [0, 1, 2, 3]);
  });
  it('a step series draws the held value before each change', () => {
    const svg = lineChart({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      xMin: 0,
      xMax: 10,
      yMin: 0,
      yMax: 10,
      width: 180,
      height: 150,
      series: [
        {
          label: 's',
          color: 'red',
          step: true,
          points: [
            [0, 0],
            [10, 10],
          ],
        },
      ],
    });
    // plot area: x 60..160, y 40..80 → (0,0) = 60,80; step to (10,0) = 160,80; then (10,10) = 160,40
    assert.match(svg, /points="60\.0,80\.0 160\.0,80\.0 160\.0,40\.0"/);
  });
});
