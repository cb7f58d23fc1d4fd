import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runScenario } from '../../workload/taxi-rome/scenario-run.ts';
import { scenarioSpec } from '../../workload/taxi-rome/scenarios.ts';
import { processesOf } from '../helpers/resources.ts';

// Issue #13: a broker joining while the rebalancer moves persistent subscribers used to lose messages
// here in about one run in five (docs/persistent-sessions.md, "Session present is not enough").

describe('taxi scenario s3 (CI scale): both levels elastic, clients through geo-dns, rebalanced', () => {
  it('ends with subscribers on every orchestrator, loses no QoS 1 message, and reports subscribers per orchestrator over time with p50/p99', async (t) => {
    const out = await mkdtemp(join(tmpdir(), 'taxi-s3-'));
    t.after(() => rm(out, { recursive: true, force: true }));
    // Small orchestrators (0.15 core) saturate at the paced 1,600 msg/s, so the policy adds the second
    // in the first seconds; it boots in ~9 s at that size under load, and the pacing keeps the run ~25 s
    // long whatever the machine does, so the rebalance has time to finish. Two brokers at most keep the
    // machine's load down.
    const spec = scenarioSpec('s3', {
      records: 40_000,
      publishers: 8,
      subscribers: 8,
      intervalSeconds: 1,
      maxReplicas: 2,
      orchestratorMax: 2,
      orchestratorCpuQuota: 0.15,
    });
    const { report: r } = await runScenario({
      spec,
      outDir: join(out, spec.label),
      addressBlock: '127.49',
      idleSeconds: 20,
      drainTimeoutSeconds: 60,
      pacing: { kind: 'rate', perSecond: 1600 },
    });
    const p = r.placement;
    t.diagnostic(
      `${r.applicationSeconds.toFixed(1)} s, ${r.messagesPerSecond.toFixed(0)} msg/s, ` +
        `p50/p99 ${r.delivery.latencyMs.p50?.toFixed(0)}/${r.delivery.latencyMs.p99?.toFixed(0)} ms, ` +
        `max ${r.replicas.orchestrator.maxReplicas} orchestrators; at the end ${JSON.stringify(p?.summary.atEnd)}; ` +
        `${p?.summary.moves} subscriber moves, ${r.delivery.duplicates} duplicates; publish ${JSON.stringify(r.publish)}; actions ${JSON.stringify(r.actions)}`,
    );
    assert.equal(r.delivery.lost, 0, 'no QoS 1 message lost');
    assert.equal(r.delivery.received + r.delivery.lost, 40_000);
    assert.equal(r.complete, true);
    assert.equal(r.replicas.orchestrator.maxReplicas, 2, 'a second orchestrator joined');
    assert.ok(p, 'subscribers per orchestrator were sampled');
    assert.equal(
      Object.keys(p.summary.atEnd?.perOrchestrator ?? {}).length,
      2,
      'two orchestrators at the end',
    );
    assert.equal(p.summary.everyOrchestratorAtEnd, true, 'subscribers on every orchestrator at the end');
    assert.ok(p.summary.moves >= 1, 'subscribers were moved, not only publishers');
    assert.ok(p.series.length >= 2 && p.series[0]?.perOrchestrator !== undefined);
    assert.ok(r.delivery.latencyMs.p50 !== null && r.delivery.latencyMs.p99 !== null);

    const dir = join(out, spec.label);
    const svg = await readFile(join(dir, 'subscribers.svg'), 'utf8');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal((svg.match(/<polyline /g) ?? []).length, 3, 'one line per orchestrator, and those moving');
    const md = await readFile(join(dir, 'report.md'), 'utf8');
    assert.match(md, /## Subscribers per orchestrator/);
    assert.match(md, /Every orchestrator serving at the end had subscribers\./);
    assert.ok(existsSync(join(dir, 'report.json')));
    assert.deepEqual(processesOf(`/brokel/sc${process.pid}-`), [], 'nothing left running');
  });
});
