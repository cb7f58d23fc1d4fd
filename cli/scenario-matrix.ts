import { fileURLToPath } from 'node:url';
import { ROUTING_STRATEGY_NAMES, type RoutingStrategyName } from '../common/admin/contract.ts';
import { ConfigError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import {
  CANDIDATES,
  DEFAULT_BOOT_CPU_QUOTA,
  DEFAULT_MAX_BOOT_SECONDS,
} from '../workload/taxi-rome/matrix-calibrate.ts';
import type { BrokerKind, MatrixSize } from '../workload/taxi-rome/matrix-plan.ts';
import { runMatrix } from '../workload/taxi-rome/matrix-run.ts';
import { oneOf, parseCommandArgs, positive } from './args.ts';

export const MATRIX_USAGE = `scenario matrix [--quick] [--out DIR] [--records N] [--publishers P] [--subscribers S]
               [--rabbitmq-records N] [--s3-records N] [--interval SECONDS] [--file TRACE] [--max-boot-seconds 45]
               [--boot-cpu 1] [--only RUN[,RUN]] [--quota KIND=CORES[,KIND=CORES]] [--reuse DIR[,DIR]] [--max-add N]
               [--routing round-robin|least-outstanding|client-affinity|topic-affinity]
                           the paper's evaluation in one go: a calibrated quota and boot budget per broker
                           kind, s1 per kind, s2-mosquitto/-rabbitmq/-mixed × max replicas {6, 10} ×
                           thresholds {30-70, 30-90, 50-70, 50-90}, and s3; writes DIR/matrix.{md,json},
                           SVG figures and every run's report (DIR defaults to matrix-results).
                           --boot-cpu: cores a broker boots with before it gets its kind's quota (0: no boost;
                           default 1, none with --quick); --only: these runs (and their s1 baselines);
                           --quota rabbitmq=0.25: that kind's quota instead of the calibration's choice (its boot
                           is still measured); --reuse DIR[,DIR]: take those matrices' runs of the same load and quotas
                           --max-add N: a scale-out may add up to N brokers (levels.brokers.maxAddPerAction; runs
                           are labelled -aN; default 1, the paper's model); --routing: how the elastic runs'
                           orchestrators route publishes (labelled -lo, -ca, -ta; default round-robin, the paper's);
                           --quick: CI-sized, the real trace head (test/fixtures), 8 of the 27 runs`;

/** --routing's value, checked. */
export function routingOf(value: string): RoutingStrategyName {
  return oneOf(value, ROUTING_STRATEGY_NAMES, '--routing');
}

/** s1-rabbitmq's and s2-rabbitmq's fixes in the full matrix (RabbitMQ at 0.25 core carried 830 QoS 1 msg/s in s1, 2026-12-02). */
const DEFAULT_RABBITMQ_RECORDS = 60_000;

/** The real trace's first 462 lines (docs/taxi-scenarios.md). */
export const TRACE_HEAD = fileURLToPath(new URL('../test/fixtures/taxi-rome-head.txt', import.meta.url));
const TRACE_HEAD_RECORDS = 462;

export function matrixSize(quick: boolean, v: Partial<Record<string, string | boolean>>): MatrixSize {
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  // The full matrix's defaults are the size measured in docs/evaluation.md (2026-12-02): long enough that a
  // Mosquitto run's ramp (one broker per 2 s observation) is a small part of it.
  const records = positive('--records', str('records'), 'integer', quick ? TRACE_HEAD_RECORDS : 200_000);
  const publishers = positive('--publishers', str('publishers'), 'integer', quick ? 4 : 20);
  const subscribers = positive('--subscribers', str('subscribers'), 'integer', quick ? 4 : 20);
  return {
    ...((str('file') ?? (quick ? TRACE_HEAD : undefined)) ? { file: str('file') ?? TRACE_HEAD } : {}),
    records,
    ...(str('rabbitmq-records') || !quick
      ? {
          rabbitmqRecords: positive(
            '--rabbitmq-records',
            str('rabbitmq-records'),
            'integer',
            DEFAULT_RABBITMQ_RECORDS,
          ),
        }
      : {}),
    publishers,
    subscribers,
    // The paper's s3 doubles the load; the trace head has no more fixes, so --quick doubles the clients only.
    s3Records: positive('--s3-records', str('s3-records'), 'integer', quick ? records : 2 * records),
    s3Publishers: 2 * publishers,
    s3Subscribers: 2 * subscribers,
    intervalSeconds: positive('--interval', str('interval'), 'number', quick ? 1 : 2),
  };
}

/** --boot-cpu: the boot boost in cores; 0 turns it off. Default 1 core for the full matrix, none for --quick. */
export function bootCpuOf(value: string | undefined, quick: boolean): number | undefined {
  if (value === undefined) return quick ? undefined : DEFAULT_BOOT_CPU_QUOTA;
  if (value.trim() === '0') return undefined;
  return positive('--boot-cpu', value, 'number', DEFAULT_BOOT_CPU_QUOTA);
}

/** --quota mosquitto=0.05,rabbitmq=0.25: each kind named gets that one candidate (its boot still measured). */
export function quotaCandidates(value: string | undefined): Record<BrokerKind, number[]> {
  const out = { mosquitto: [...CANDIDATES.mosquitto], rabbitmq: [...CANDIDATES.rabbitmq] };
  if (value === undefined) return out;
  for (const part of value.split(',')) {
    const [kind, cores] = part.split('=');
    if (kind !== 'mosquitto' && kind !== 'rabbitmq')
      throw new ConfigError([
        {
          path: '--quota',
          message: `${JSON.stringify(part)} is not KIND=CORES with KIND mosquitto or rabbitmq`,
        },
      ]);
    out[kind] = [positive('--quota', cores, 'number', 1)];
  }
  return out;
}

export async function runMatrixCommand(argv: string[], log: Logger): Promise<number> {
  const { values } = parseCommandArgs('scenario matrix', argv, {
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: 'matrix-results' },
    records: { type: 'string' },
    publishers: { type: 'string' },
    subscribers: { type: 'string' },
    's3-records': { type: 'string' },
    'rabbitmq-records': { type: 'string' },
    interval: { type: 'string' },
    file: { type: 'string' },
    'max-boot-seconds': { type: 'string' },
    'boot-cpu': { type: 'string' },
    only: { type: 'string' },
    quota: { type: 'string' },
    reuse: { type: 'string' },
    'max-add': { type: 'string' },
    routing: { type: 'string' },
    'address-block': { type: 'string', default: '127.47' },
  });
  const quick = values.quick === true;
  const bootCpu = bootCpuOf(values['boot-cpu'], quick);
  const only = values.only
    ?.split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const { matrix, files } = await runMatrix({
      quick,
      outDir: values.out,
      size: matrixSize(quick, values),
      calibration: quick
        ? { probe: false, candidates: { mosquitto: [0.05], rabbitmq: [1] } }
        : {
            candidates: quotaCandidates(values.quota),
            maxBootSeconds: positive(
              '--max-boot-seconds',
              values['max-boot-seconds'],
              'integer',
              DEFAULT_MAX_BOOT_SECONDS,
            ),
          },
      addressBlock: values['address-block'],
      ...(bootCpu === undefined ? {} : { bootCpuQuota: bootCpu }),
      ...(values['max-add'] === undefined
        ? {}
        : { maxAddPerAction: positive('--max-add', values['max-add'], 'integer', 1) }),
      ...(values.routing === undefined ? {} : { routing: routingOf(values.routing) }),
      ...(only === undefined ? {} : { only }),
      ...(values.reuse === undefined ? {} : { reuse: values.reuse.split(',').filter((d) => d !== '') }),
      publisherProcesses: quick ? 1 : 2,
      ...(quick ? { idleSeconds: 20, drainTimeoutSeconds: 60 } : {}),
      log,
      signal: interrupt.signal,
      onRun: (line) => console.log(line),
    });
    const t = matrix.totals;
    console.log(`${t.runs} runs, ${t.failed} failed, ${t.lost} of ${t.sent} QoS 1 messages lost`);
    console.log(`  ${files.join('\n  ')}`);
    return t.failed > 0 || t.lost > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
