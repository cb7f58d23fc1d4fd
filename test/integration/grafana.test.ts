// test-lanes: shared
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { metricNameProblem } from '../../common/metrics.ts';
import { startTestDns } from '../helpers/dns.ts';
import { startManager } from '../helpers/manager.ts';
import { startTestManagerApi } from '../helpers/manager-api.ts';
import { waitFor } from '../helpers/resources.ts';

const TOKEN = 'manager-test-token-0123456789';
const DASHBOARD = new URL('../../deploy/grafana/brokel-dashboard.json', import.meta.url);

/** Every PromQL expression in a Grafana dashboard: panel targets and annotation queries. */
function expressions(dashboard: {
  panels: Array<{ targets?: Array<{ expr?: string }> }>;
  annotations?: { list: Array<{ expr?: string }> };
}): string[] {
  const fromPanels = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
  const fromAnnotations = (dashboard.annotations?.list ?? []).map((a) => a.expr ?? '');
  return [...fromPanels, ...fromAnnotations].filter((e) => e !== '');
}

/** `# TYPE name type` lines of a Prometheus text exposition. */
function types(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]));
}

describe('Grafana dashboard and metric names against live /metrics', () => {
  it('every metric the dashboard queries exists in the manager or an orchestrator, and every name follows brokel_<part>_<what>_<unit|total>', async (t) => {
    const geo = await startTestDns(t);
    const { manager, metrics, provider, config } = await startManager(
      t,
      {
        monitor: { intervalSeconds: 0.3, warmupObservations: 1 },
        levels: { brokers: { min: 1, max: 1 }, orchestrators: { min: 1, max: 1 } },
        manager: { adminToken: TOKEN },
      },
      geo.directory,
    );
    const { base } = await startTestManagerApi(t, manager, {
      metrics,
      extra: () => ({ deployment: config.deployment }),
      registries: [geo.server.metrics.registry],
    });
    await waitFor(async () => (await manager.status()).observation >= 2, 15_000, 'two observations');

    const managerText = await (await fetch(`${base}/metrics`)).text();
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    assert.ok(orchestrator?.ports.admin, 'an orchestrator with an admin port');
    // Prometheus finds it through the manager (http_sd_configs in deploy/prometheus/scrape.yaml).
    const groups = (await (await fetch(`${base}/api/prometheus/targets`)).json()) as Array<{
      targets: string[];
    }>;
    const target = `${orchestrator.host}:${orchestrator.ports.admin}`;
    assert.deepEqual(
      groups.map((g) => g.targets),
      [[target]],
    );
    const refused = await fetch(`http://${target}/metrics`);
    assert.equal(refused.status, 401, 'the orchestrator metrics need the admin token');
    const orchestratorText = await (
      await fetch(`http://${target}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).text();

    const live = new Map([...types(managerText), ...types(orchestratorText)]);
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8'));
    const used = new Set(expressions(dashboard).flatMap((e) => e.match(/\bbrokel_[a-z0-9_]+/g) ?? []));
    assert.ok(used.size >= 15, `the dashboard queries ${used.size} metrics`);
    const missing = [...used].filter((name) => {
      const histogram = name.replace(/_(bucket|sum|count)$/, '');
      return !live.has(name) && live.get(histogram) !== 'histogram';
    });
    assert.deepEqual(missing, [], 'metrics the dashboard queries that no live /metrics has');

    // Our own metrics (not prom-client's default process_/nodejs_ ones, named by the Prometheus clients' convention).
    const ours = [...live].filter(([name]) => !/^brokel_(process|nodejs)_/.test(name));
    assert.ok(ours.length >= 14, `${ours.length} brokel metrics`);
    const bad = ours.flatMap(([name, type]) => {
      const problem = metricNameProblem(name, type);
      return problem ? [`${name} ${problem}`] : [];
    });
    assert.deepEqual(bad, []);
  });
});

describe('metric name rules (pure)', () => {
  it('accepts ours and refuses names promlint would', () => {
    assert.equal(metricNameProblem('brokel_manager_level_replicas', 'gauge'), undefined);
    assert.equal(metricNameProblem('brokel_dns_queries_total', 'counter'), undefined);
    assert.match(metricNameProblem('brokel_orchestrator_sessions', 'gauge') ?? '', /brokel_<part>/);
    assert.match(metricNameProblem('brokel_manager_scale_decisions', 'counter') ?? '', /_total/);
    assert.match(metricNameProblem('brokel_manager_things_total', 'gauge') ?? '', /ends in _total/);
    assert.match(metricNameProblem('brokel_dns_answer_ms', 'histogram') ?? '', /base unit/);
    assert.match(metricNameProblem('brokel_Manager_load_ratio', 'gauge') ?? '', /lower-case/);
  });
});
