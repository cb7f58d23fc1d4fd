import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

/**
 * prom-client, without its index. `import 'prom-client'` loads every part of the library: the
 * Pushgateway (node:http, node:https) and the default process-CPU metric, whose exemplar support loads
 * @opentelemetry/api (6.8 MB of RSS in a bare node); without them an orchestrator replica idles at
 * 58.7 MB instead of 60.1 (docs/data-plane.md, "Session 20"). Here each service gets only the classes it
 * uses, from prom-client's own files (the package has no `exports` map, so they are public paths), with
 * the index's types. `collectDefaultMetrics` is prom-client's list of default metrics, loaded one by
 * one, with the CPU counters written here: the same names, help and values, no exemplars.
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

export function collectDefaultMetrics(options: { register: Registry; prefix: string }): void {
  processCpu(options.register, options.prefix);
  for (const name of AFTER_CPU) {
    const metric: DefaultMetric = require(`prom-client/lib/metrics/${name}`);
    // prom-client's own default precision (ms) for the event loop's delay histogram.
    metric(options.register, { prefix: options.prefix, eventLoopMonitoringPrecision: 10 });
  }
}
