// test-lanes: shared
// common/prom.ts: prom-client's classes without its index (which loads @opentelemetry/api and the
// Pushgateway). The exposition must stay prom-client's own, and the heavy modules must stay unloaded.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as promClient from 'prom-client';
import {
  Counter,
  collectDefaultMetrics,
  EVENT_LOOP_SAMPLE_MS,
  Gauge,
  Histogram,
  Registry,
} from '../../common/prom.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** What a fresh process has loaded (CommonJS modules under node_modules) after running `code`. */
async function loadedAfter(code: string): Promise<string[]> {
  const probe = `${code}
const { createRequire } = await import('node:module');
console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', probe],
    { cwd: repoRoot, timeout: 30_000 },
  );
  return (JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]') as string[]).map((p) =>
    p.slice(p.lastIndexOf('node_modules/') + 'node_modules/'.length),
  );
}

const heavy = (modules: string[]) =>
  modules.filter(
    (m) => m.startsWith('@opentelemetry/') || m === 'prom-client/index.js' || m.endsWith('/pushgateway.js'),
  );

/** Name, type, help and label names of every metric, in registry order: what a scrape's shape is. */
async function shape(registry: promClient.Registry) {
  return (await registry.getMetricsAsJSON()).map((m) => ({
    name: m.name,
    type: m.type,
    help: m.help,
    labels: [...new Set(m.values.flatMap((v) => Object.keys(v.labels)))].sort(),
  }));
}

/** A registry of its own with the default metrics under `prefix`; each call scrapes the named ones. */
function defaultMetrics<K extends string>(
  prefix: string,
  names: Record<K, string>,
): () => Promise<Record<K, number>> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  return async () => {
    const byName = new Map((await registry.getMetricsAsJSON()).map((m) => [m.name, m.values[0]?.value]));
    const entries = Object.entries<string>(names).map(([k, n]) => [k, byName.get(`${prefix}${n}`) ?? NaN]);
    return Object.fromEntries(entries) as Record<K, number>;
  };
}

describe('prom-client without its index (common/prom.ts)', () => {
  it('an orchestrator, a manager and geo-dns register their metrics without loading @opentelemetry/api, the Pushgateway or the index', async () => {
    const loaded = await loadedAfter(`
const { orchestratorMetrics } = await import('./orchestrator/metrics.ts');
const { managerMetrics } = await import('./manager/metrics.ts');
const { dnsMetrics } = await import('./geo-dns/metrics.ts');
const m = orchestratorMetrics({ counts: () => [{ id: 'b1', published: 3, delivered: 2 }] });
await m.registry.metrics();
await managerMetrics().registry.metrics();
await dnsMetrics().registry.metrics();`);
    assert.ok(
      loaded.some((m) => m.startsWith('prom-client/lib/registry')),
      `the probe saw no prom-client at all: ${loaded.join(', ')}`,
    );
    assert.deepEqual(heavy(loaded), []);
  });

  it('the probe sees them when prom-client is imported whole (so the check above can fail)', async () => {
    const loaded = await loadedAfter(`await import('prom-client');`);
    assert.ok(
      heavy(loaded).some((m) => m.startsWith('@opentelemetry/')),
      loaded.join(', '),
    );
    assert.ok(heavy(loaded).includes('prom-client/index.js'));
  });

  it('the classes are prom-client`s own', () => {
    assert.equal(Registry, promClient.Registry);
    assert.equal(Counter, promClient.Counter);
    assert.equal(Gauge, promClient.Gauge);
    assert.equal(Histogram, promClient.Histogram);
  });

  it('the default metrics expose what prom-client`s collectDefaultMetrics exposes: same names, types, help, labels, order', async () => {
    const theirs = new promClient.Registry();
    promClient.collectDefaultMetrics({ register: theirs, prefix: 'probe_' });
    const ours = new Registry();
    collectDefaultMetrics({ register: ours, prefix: 'probe_' });
    const expected = await shape(theirs);
    assert.ok(expected.length >= 15, `prom-client registered ${expected.length} default metrics`);
    assert.deepEqual(await shape(ours), expected);
  });

  it('the CPU counters grow with the CPU this process uses, user + system = total, as prom-client counts them', async () => {
    const read = defaultMetrics('probe_', {
      user: 'process_cpu_user_seconds_total',
      system: 'process_cpu_system_seconds_total',
      total: 'process_cpu_seconds_total',
    });
    const first = await read();
    const before = process.cpuUsage();
    for (const until = Date.now() + 100; Date.now() < until; ) Math.sqrt(Math.random()); // ~100 ms of CPU
    const spent = process.cpuUsage(before);
    const second = await read();
    assert.ok(second.user - first.user >= (spent.user / 1e6) * 0.9, JSON.stringify({ first, second, spent }));
    assert.ok(second.system >= first.system);
    assert.ok(Math.abs(second.total - (second.user + second.system)) < 1e-6, JSON.stringify(second));
    const spentSeconds = (spent.user + spent.system) / 1e6;
    assert.ok(second.total - first.total >= spentSeconds * 0.9, `total ${first.total} → ${second.total} s`);
  });

  it(`the event loop's delay, sampled every ${EVENT_LOOP_SAMPLE_MS} ms: about 0 idle, a 150 ms stall as 100–150 ms beyond the interval`, async () => {
    const read = defaultMetrics('stall_', {
      p50: 'nodejs_eventloop_lag_p50_seconds',
      max: 'nodejs_eventloop_lag_max_seconds',
    });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await sleep(6 * EVENT_LOOP_SAMPLE_MS);
    // Node's histogram holds the time between samples: prom-client reads an idle loop as one interval late.
    const idle = await read(); // a scrape also resets the histogram
    assert.ok(idle.p50 >= 0 && idle.p50 < 0.005, `idle p50 ${idle.p50} s`);
    // The first sample after a reset records nothing: stall only once one has run.
    await sleep(3 * EVENT_LOOP_SAMPLE_MS);
    for (const until = Date.now() + 150; Date.now() < until; ) Math.sqrt(Math.random());
    await sleep(2 * EVENT_LOOP_SAMPLE_MS);
    const stalled = await read();
    assert.ok(stalled.max >= 0.09 && stalled.max < 0.2, `lag max ${stalled.max} s after a 150 ms stall`);
  });
});
