import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from './prom.ts';

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

/** `brokel_<part>_<what>_<unit|total>`: lower-case words, at least part, what and unit. */
const NAME = /^brokel_[a-z][a-z0-9]*(_[a-z0-9]+){2,}$/;
/** Units that are not the base unit Prometheus asks for (seconds, bytes, ratio). */
const NON_BASE_UNIT =
  /_(milliseconds|millis|ms|microseconds|us|minutes|hours|percent|kilobytes|kb|megabytes|mb)(_|$)/;

/**
 * Why a metric name breaks the naming rules (promlint's, and ours), or undefined when it follows
 * them: the shape above; counters, and only counters, end in `_total`; base units only; no `_count`,
 * `_sum` or `_bucket` ending, which Prometheus gives histograms.
 */
export function metricNameProblem(name: string, type: string): string | undefined {
  if (!NAME.test(name)) return 'is not brokel_<part>_<what>_<unit|total> (lower-case words)';
  if (type === 'counter' && !name.endsWith('_total')) return 'is a counter and does not end in _total';
  if (type !== 'counter' && name.endsWith('_total')) return `is a ${type} and ends in _total`;
  if (NON_BASE_UNIT.test(name)) return 'uses a unit that is not a base unit (seconds, bytes, ratio)';
  if (/_(count|sum|bucket)$/.test(name)) return 'ends in a suffix Prometheus reserves for histograms';
  return undefined;
}

function checkName(name: string, type: string): void {
  const problem = metricNameProblem(name, type);
  if (problem) throw new Error(`metric name ${name} ${problem}`);
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
      checkName(name, 'counter');
      return new Counter({ name, help, labelNames: [...labelNames], registers: [registry] });
    },
    gauge(name, help, labelNames = []) {
      checkName(name, 'gauge');
      return new Gauge({ name, help, labelNames: [...labelNames], registers: [registry] });
    },
    histogram(name, help, buckets, labelNames = []) {
      checkName(name, 'histogram');
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
