import { join } from 'node:path';
import { ConfigError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { parseQos } from '../workload/taxi-rome/mqtt-clients.ts';
import type { Pacing } from '../workload/taxi-rome/pacing.ts';
import { costTargetNote, shortRunNote } from '../workload/taxi-rome/report.ts';
import { findBaseline } from '../workload/taxi-rome/report-files.ts';
import { runScenario as runOne } from '../workload/taxi-rome/scenario-run.ts';
import {
  isScenarioName,
  parseThresholds,
  SCENARIO_NAMES,
  type ScenarioOptions,
  scenarioSpec,
} from '../workload/taxi-rome/scenarios.ts';
import { parseCommandArgs, positive } from './args.ts';
import { MATRIX_USAGE, routingOf } from './scenario-matrix.ts';

export const SCENARIO_USAGE = `scenario run NAME [--records N] [--publishers P] [--subscribers S] [--out DIR]
               [--max-replicas 6[,10]] [--thresholds 30-70[,30-90,50-70,50-90]] [--interval SECONDS]
               [--broker-cpu CORES] [--orchestrator-cpu CORES] [--file TRACE] [--seed S] [--qos 1]
               [--rate R | --speedup X] [--baseline REPORT.json] [--publisher-processes 2] [--max-add N]
               [--routing round-robin|least-outstanding|client-affinity|topic-affinity]
                           run a paper scenario (${SCENARIO_NAMES.join(', ')}) on local processes and write
                           DIR/<run>/report.{json,md} and SVG plots (DIR defaults to scenario-results)
       ${MATRIX_USAGE}`;

/** An optional positive flag: undefined when absent (the scenario's own default applies). */
function num(flag: string, value: string | undefined, integer = false): number | undefined {
  return value === undefined ? undefined : positive(flag, value, integer ? 'integer' : 'number');
}

function list<T>(flag: string, value: string | undefined, parse: (s: string) => T): Array<T | undefined> {
  if (value === undefined) return [undefined];
  try {
    return value.split(',').map((s) => parse(s.trim()));
  } catch (err) {
    throw new ConfigError([{ path: flag, message: (err as Error).message }]);
  }
}

export async function runScenario(argv: string[], log: Logger): Promise<number> {
  if (argv[0] === 'matrix')
    return (await import('./scenario-matrix.ts')).runMatrixCommand(argv.slice(1), log);
  const { values, positionals } = parseCommandArgs('scenario', argv, {
    records: { type: 'string' },
    publishers: { type: 'string' },
    subscribers: { type: 'string' },
    out: { type: 'string', default: 'scenario-results' },
    'max-replicas': { type: 'string' },
    thresholds: { type: 'string' },
    interval: { type: 'string' },
    'broker-cpu': { type: 'string' },
    'orchestrator-cpu': { type: 'string' },
    'orchestrator-max': { type: 'string' },
    file: { type: 'string' },
    seed: { type: 'string', default: '1' },
    qos: { type: 'string', default: '1' },
    rate: { type: 'string' },
    speedup: { type: 'string' },
    baseline: { type: 'string' },
    'publisher-processes': { type: 'string', default: '2' },
    'max-add': { type: 'string' },
    routing: { type: 'string' },
    'address-block': { type: 'string', default: '127.47' },
  });
  const [sub, name] = positionals;
  if (sub !== 'run' || name === undefined) {
    console.error(`usage: brokel ${SCENARIO_USAGE}`);
    return 2;
  }
  if (!isScenarioName(name))
    throw new ConfigError([
      { path: 'scenario', message: `${JSON.stringify(name)} is not one of ${SCENARIO_NAMES.join(', ')}` },
    ]);
  if (values.rate !== undefined && values.speedup !== undefined)
    throw new ConfigError([{ path: 'scenario', message: 'give at most one of --rate and --speedup' }]);
  const pacing: Pacing = values.rate
    ? { kind: 'rate', perSecond: num('--rate', values.rate) as number }
    : values.speedup
      ? { kind: 'speedup', factor: num('--speedup', values.speedup) as number }
      : { kind: 'max' };
  const base: ScenarioOptions = {
    records: num('--records', values.records, true),
    publishers: num('--publishers', values.publishers, true),
    subscribers: num('--subscribers', values.subscribers, true),
    intervalSeconds: num('--interval', values.interval),
    brokerCpuQuota: num('--broker-cpu', values['broker-cpu']),
    orchestratorCpuQuota: num('--orchestrator-cpu', values['orchestrator-cpu']),
    orchestratorMax: num('--orchestrator-max', values['orchestrator-max'], true),
    maxAddPerAction: num('--max-add', values['max-add'], true),
    ...(values.routing === undefined ? {} : { routing: routingOf(values.routing) }),
  };
  const maxes = list(
    '--max-replicas',
    values['max-replicas'],
    (s) => num('--max-replicas', s, true) as number,
  );
  const thresholds = list('--thresholds', values.thresholds, parseThresholds);
  // Ctrl-C stops the run cleanly: no broker or orchestrator is left behind.
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let failures = 0;
  for (const maxReplicas of maxes) {
    for (const t of thresholds) {
      const spec = scenarioSpec(name, { ...base, maxReplicas, thresholds: t });
      const outDir = join(values.out, spec.label);
      const baseline = await findBaseline(outDir, values.baseline);
      log.info({ scenario: spec.label, outDir, description: spec.description }, 'scenario: starting');
      const { report, files } = await runOne({
        spec,
        outDir,
        file: values.file,
        seed: Number(values.seed),
        qos: parseQos(values.qos),
        pacing,
        publisherProcesses: num('--publisher-processes', values['publisher-processes'], true),
        addressBlock: values['address-block'],
        baseline,
        log,
        signal: interrupt.signal,
      });
      const vs = report.efficiency.vsBaseline;
      console.log(
        `${spec.label}: ${report.applicationSeconds.toFixed(2)} s, ${report.messagesPerSecond.toFixed(1)} msg/s, ` +
          `${report.delivery.received}/${report.publish.sent} received (${report.delivery.lost} lost, ${report.delivery.duplicates} duplicates), ` +
          `mean replicas ${report.replicas.broker.meanReplicas.toFixed(2)} brokers + ${report.replicas.orchestrator.meanReplicas.toFixed(2)} orchestrators, cost ${report.cost.toFixed(1)} replica·s` +
          (vs
            ? `, ${vs.timeReductionPercent.toFixed(1)} % time reduction and ${vs.throughputGainPercent.toFixed(1)} % more msg/s vs ${vs.baseline}` +
              (vs.sameLoad ? '' : ` (which replayed another number of fixes: compare msg/s)`)
            : ''),
      );
      const costNote = costTargetNote(report);
      if (costNote !== undefined) console.log(`  ${costNote}`);
      const shortNote = shortRunNote(report);
      if (shortNote !== undefined) console.log(`  ${shortNote}`);
      console.log(`  ${files.join('\n  ')}`);
      if (!report.complete) failures += 1;
    }
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return failures > 0 ? 1 : 0;
}
