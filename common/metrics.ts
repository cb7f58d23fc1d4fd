import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One prom-client registry per service (never the global one, so several services can live in one
 * process and in one test). Names follow `brokel_<part>_<what>_<unit|total>`; label sets are bounded
 * and initialised to zero with `zeroLabels`.
 */
export interface ServiceMetrics {
  registry: Registry;
  counter<L extends string>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  gauge<L extends string>(name: string, help: string, labelNames?: readonly L[]): Gauge<L>;
  histogram<L extends string>(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames?: readonly L[],
  ): Histogram<L>;
}

const NAME = /^brokel_[a-z0-9]+(_[a-z0-9]+)+$/;

function checkName(name: string): void {
  if (!NAME.test(name))
    throw new Error(`metric name ${name} does not follow brokel_<part>_<what>_<unit|total>`);
}

export function createServiceMetrics(
  options: { defaultMetrics?: boolean; prefix?: string } = {},
): ServiceMetrics {
  const registry = new Registry();
  if (options.defaultMetrics)
    collectDefaultMetrics({ register: registry, prefix: options.prefix ?? 'brokel_' });
  return {
    registry,
    counter(name, help, labelNames = []) {
      checkName(name);
      return new Counter({ name, help, labelNames: [...labelNames], registers: [registry] });
    },
    gauge(name, help, labelNames = []) {
      checkName(name);
      return new Gauge({ name, help, labelNames: [...labelNames], registers: [registry] });
    },
    histogram(name, help, buckets, labelNames = []) {
      checkName(name);
      return new Histogram({
        name,
        help,
        buckets: [...buckets],
        labelNames: [...labelNames],
        registers: [registry],
      });
    },
  };
}

/** Initialise every combination of a bounded label set to zero, so series exist before the first event. */
export function zeroLabels<L extends string>(
  metric: Counter<L> | Gauge<L>,
  combos: ReadonlyArray<Partial<Record<L, string>>>,
): void {
  for (const labels of combos) metric.inc(labels, 0);
}
