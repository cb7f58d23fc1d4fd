import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type * as PromClient from 'prom-client';

/**
 * prom-client, without its index. `import 'prom-client'` loads every part of the library: the
 * Pushgateway (node:http, node:https) and the default process-CPU metric, whose exemplar support loads
 * @opentelemetry/api (6.8 MB of RSS in a bare node); without them an orchestrator replica idles at
 * 58.7 MB instead of 60.1 (docs/data-plane.md, "Session 20"). Here each service gets only the classes it
 * uses, from prom-client's own files (the package has no `exports` map, so they are public paths), with
 * the index's types. `collectDefaultMetrics` is prom-client's list of default metrics, loaded one by
 * one, with the CPU counters written here (the same names, help and values, no exemplars) and the
 * event-loop delay (the same names and help, sampled less often, the sampling interval taken off).
 * `test/integration/prom-light.test.ts` compares the exposition with prom-client's own and checks what
 * loads (a prom-client release that moves these files fails it).
 */
const require = createRequire(import.meta.url);

export const Registry: typeof PromClient.Registry = require('prom-client/lib/registry');
export type Registry = PromClient.Registry;
export const Counter: typeof PromClient.Counter = require('prom-client/lib/counter');
export type Counter<L extends string = string> = PromClient.Counter<L>;
export const Gauge: typeof PromClient.Gauge = require('prom-client/lib/gauge');
export type Gauge<L extends string = string> = PromClient.Gauge<L>;
export const Histogram: typeof PromClient.Histogram = require('prom-client/lib/histogram');
export type Histogram<L extends string = string> = PromClient.Histogram<L>;

type DefaultMetric = (
  registry: Registry,
  config: { prefix: string; eventLoopMonitoringPrecision: number },
) => void;

/** prom-client 15's default metrics after its CPU counters, in its order (lib/defaultMetrics.js). */
const AFTER_CPU = [
  'processStartTime',
  'osMemoryHeap',
  'processOpenFileDescriptors',
  'processMaxFileDescriptors',
  'eventLoopLag',
  ...(typeof process.getActiveResourcesInfo === 'function' ? ['processResources'] : []),
  'processHandles',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
  'gc',
] as const;

/** prom-client's `process_cpu_*_seconds_total`: the first one's collect sets all three. */
function processCpu(registry: Registry, prefix: string): void {
  let last = process.cpuUsage();
  const registers = [registry];
  const system = new Counter({
    name: `${prefix}process_cpu_system_seconds_total`,
    help: 'Total system CPU time spent in seconds.',
    registers: [],
  });
  const total = new Counter({
    name: `${prefix}process_cpu_seconds_total`,
    help: 'Total user and system CPU time spent in seconds.',
    registers: [],
  });
  const user = new Counter({
    name: `${prefix}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers,
    collect() {
      const now = process.cpuUsage();
      const userMicros = now.user - last.user;
      const systemMicros = now.system - last.system;
      last = now;
      user.inc(userMicros / 1e6);
      system.inc(systemMicros / 1e6);
      total.inc((userMicros + systemMicros) / 1e6);
    },
  });
  // Registered in prom-client's order: user (whose collect runs first), system, total.
  registry.registerMetric(system);
  registry.registerMetric(total);
}

/**
 * How often the event loop's delay is sampled (ms; `monitorEventLoopDelay`'s resolution). prom-client's
 * default, 10, is a timer firing 100 times a second in every process: most of an idle orchestrator's
 * CPU, and at 2,000 msg/s 1–2.4 % of its CPU (bench:ab, two runs, QoS 0 and 1; docs/data-plane.md
 * "Session 36"). A sample measures how late its timer ran: a stall of 50 ms or more shows as it did at
 * 10 ms, a shorter one only when it covers a sample's moment. A 15 s scrape gets 300 samples, not 1,500.
 */
export const EVENT_LOOP_SAMPLE_MS = 50;

/**
 * prom-client's event-loop metrics (lib/metrics/eventLoopLag.js: the same names, help, aggregators and
 * order), with one difference: Node's histogram records the time between two samples, so every value
 * includes the sampling interval (an idle process read 10 ms of "lag" at prom-client's 10 ms, and would
 * read 50 here). The interval is taken off each value (at least 0): the delay beyond the schedule. With no
 * sample since the last scrape, each reads 0.
 */
function eventLoopLag(registry: Registry, prefix: string): void {
  const histogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_SAMPLE_MS });
  histogram.enable();
  const registers = [registry];
  const late = (ns: number): number => Math.max(0, ns / 1e9 - EVENT_LOOP_SAMPLE_MS / 1e3);
  const gauge = (name: string, help: string, aggregator: 'min' | 'max' | 'average') =>
    new Gauge({ name: `${prefix}${name}`, help, registers, labelNames: [], aggregator });
  const lag: Gauge = new Gauge({
    name: `${prefix}nodejs_eventloop_lag_seconds`,
    help: 'Lag of event loop in seconds.',
    registers,
    labelNames: [],
    aggregator: 'average',
    // This one metric's `collect` sets all of them, as prom-client's does.
    collect() {
      const start = process.hrtime.bigint();
      setImmediate(() => lag.set(Number(process.hrtime.bigint() - start) / 1e9));
      const any = histogram.count > 0;
      min.set(any ? late(histogram.min) : 0);
      max.set(any ? late(histogram.max) : 0);
      mean.set(any ? late(histogram.mean) : 0);
      stddev.set(any ? histogram.stddev / 1e9 : 0);
      p50.set(any ? late(histogram.percentile(50)) : 0);
      p90.set(any ? late(histogram.percentile(90)) : 0);
      p99.set(any ? late(histogram.percentile(99)) : 0);
      histogram.reset();
    },
  });
  const min = gauge('nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.', 'min');
  const max = gauge('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.', 'max');
  const mean = gauge(
    'nodejs_eventloop_lag_mean_seconds',
    'The mean of the recorded event loop delays.',
    'average',
  );
  const stddev = gauge(
    'nodejs_eventloop_lag_stddev_seconds',
    'The standard deviation of the recorded event loop delays.',
    'average',
  );
  const p50 = gauge(
    'nodejs_eventloop_lag_p50_seconds',
    'The 50th percentile of the recorded event loop delays.',
    'average',
  );
  const p90 = gauge(
    'nodejs_eventloop_lag_p90_seconds',
    'The 90th percentile of the recorded event loop delays.',
    'average',
  );
  const p99 = gauge(
    'nodejs_eventloop_lag_p99_seconds',
    'The 99th percentile of the recorded event loop delays.',
    'average',
  );
}

export function collectDefaultMetrics(options: { register: Registry; prefix: string }): void {
  processCpu(options.register, options.prefix);
  for (const name of AFTER_CPU) {
    if (name === 'eventLoopLag') {
      eventLoopLag(options.register, options.prefix);
      continue;
    }
    const metric: DefaultMetric = require(`prom-client/lib/metrics/${name}`);
    metric(options.register, { prefix: options.prefix, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }
}
