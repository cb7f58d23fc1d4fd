import { ConfigError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { generateTrace } from '../workload/taxi-rome/generator.ts';
import { parseQos } from '../workload/taxi-rome/mqtt-clients.ts';
import type { Pacing } from '../workload/taxi-rome/pacing.ts';
import { progressBar } from '../workload/taxi-rome/progress.ts';
import { runPublishers } from '../workload/taxi-rome/publisher.ts';
import { runPublisherProcesses } from '../workload/taxi-rome/publisher-processes.ts';
import { splitShares } from '../workload/taxi-rome/shares.ts';
import { Subscribers } from '../workload/taxi-rome/subscriber.ts';
import { resolveTarget, type Target } from '../workload/taxi-rome/target.ts';
import { describeBadLines, loadTrace } from '../workload/taxi-rome/trace-reader.ts';
import { writeTrace } from '../workload/taxi-rome/trace-writer.ts';
import { parseCommandArgs, positive } from './args.ts';
import { TARGET_OPTIONS } from './taxi-flags.ts';
import { LADDER_USAGE, ladder } from './taxi-ladder.ts';

export const TAXI_USAGE = `taxi generate --records N [--taxis 316] [--seed S] [--out FILE]
                           write a seeded synthetic Rome taxi trace (roma/taxi format)
  taxi publish --file F --publishers P --records N (--url URL | --dns HOST:PORT [--name NAME] [--port 1883])
               [--mqtt-version 4|5] (5: a moved client follows the Server Reference; both re-resolve --dns)
               [--qos 1] [--rate R | --speedup X] [--processes] [--inflight 64]
                           replay the first N fixes on taxi/<id> (paper's Algorithm 3)
  taxi subscribe --file F --subscribers S --records N (--url URL | --dns HOST:PORT ...) [--qos 1]
               [--timeout-seconds 600] [--idle-seconds 10] [--persistent]
                           subscribe to every taxi topic of the first N fixes; report loss, duplicates,
                           reordering and latency (paper's Algorithm 4)
  ${LADDER_USAGE}`;

export function targetFrom(values: { url?: string; dns?: string; name?: string; port?: string }): Target {
  if ((values.url === undefined) === (values.dns === undefined))
    throw new ConfigError([{ path: 'taxi', message: 'give exactly one of --url and --dns' }]);
  if (values.url !== undefined) return { url: values.url };
  const port = positive('--port', values.port, 'integer', 1883);
  return { dns: values.dns as string, name: values.name ?? 'mqtt.brokel.test', port };
}

/** Clients given a DNS name look it up again after a plain close (docs/rebalancing.md). */
const followOf = (target: Target) => ('dns' in target ? { dns: target.dns, name: target.name } : undefined);

function mqttVersion(value: string | undefined): 4 | 5 {
  if (value === '4' || value === '5' || value === undefined) return value === '5' ? 5 : 4;
  throw new ConfigError([{ path: '--mqtt-version', message: `${JSON.stringify(value)} is not 4 or 5` }]);
}

function pacingFrom(values: { rate?: string; speedup?: string }): Pacing {
  if (values.rate !== undefined && values.speedup !== undefined)
    throw new ConfigError([{ path: 'taxi publish', message: 'give at most one of --rate and --speedup' }]);
  if (values.rate !== undefined)
    return { kind: 'rate', perSecond: positive('--rate', values.rate, 'number') };
  if (values.speedup !== undefined)
    return { kind: 'speedup', factor: positive('--speedup', values.speedup, 'number') };
  return { kind: 'max' };
}

async function generate(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('taxi generate', argv, {
    records: { type: 'string' },
    taxis: { type: 'string', default: '316' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string' },
  });
  const records = positive('--records', values.records, 'integer');
  const seed = Number(values.seed);
  if (!Number.isInteger(seed))
    throw new ConfigError([{ path: '--seed', message: `${values.seed} is not an integer` }]);
  const bar = values.out ? progressBar('generate', records) : progressBar('', 0);
  const n = await writeTrace(
    generateTrace({ records, taxis: positive('--taxis', values.taxis, 'integer'), seed }),
    values.out,
    (k) => bar.update(k),
  );
  bar.stop();
  if (values.out) console.error(`taxi generate: ${n} fixes written to ${values.out}`);
  return 0;
}

async function load(file: string | undefined, records: number, log: Logger) {
  if (!file) throw new ConfigError([{ path: '--file', message: 'is required' }]);
  const trace = await loadTrace(file, records);
  if (trace.stats.badLines > 0)
    log.warn({ file, badLines: trace.stats.badLines }, describeBadLines(trace.stats));
  if (trace.records.length < records)
    log.warn({ file, records: trace.records.length }, `the file has only ${trace.records.length} fixes`);
  return trace.records;
}

async function publish(argv: string[], log: Logger): Promise<number> {
  const { values } = parseCommandArgs('taxi publish', argv, {
    file: { type: 'string' },
    publishers: { type: 'string', default: '1' },
    records: { type: 'string' },
    qos: { type: 'string', default: '1' },
    rate: { type: 'string' },
    speedup: { type: 'string' },
    processes: { type: 'boolean', default: false },
    inflight: { type: 'string', default: '64' },
    ...TARGET_OPTIONS,
  });
  const publishers = positive('--publishers', values.publishers, 'integer');
  const limit = positive('--records', values.records, 'integer');
  const qos = parseQos(values.qos);
  const pacing = pacingFrom(values);
  const inflight = positive('--inflight', values.inflight, 'integer');
  const target = targetFrom(values);
  const urls = await resolveTarget(target);
  const follow = followOf(target);
  log.info({ urls, publishers, qos, pacing }, 'taxi publish: starting');
  const records = await load(values.file, limit, log);
  const bar = progressBar('publish', records.length);
  const result = values.processes
    ? await runPublisherProcesses(
        {
          file: values.file as string,
          records: limit,
          publishers,
          urls,
          qos,
          pacing,
          inflight,
          clientIdPrefix: `taxi-pub-${process.pid}`,
          protocolVersion: mqttVersion(values['mqtt-version']),
          ...(follow ? { follow } : {}),
        },
        { onProgress: (n) => bar.update(n) },
      )
    : await runPublishers(splitShares(records, publishers), {
        urls,
        qos,
        pacing,
        inflight,
        follow,
        protocolVersion: mqttVersion(values['mqtt-version']),
        onProgress: (n) => bar.update(n),
      });
  bar.stop();
  const { publishers: _each, ...totals } = result;
  console.log(
    JSON.stringify(
      { ...totals, messagesPerSecond: result.seconds > 0 ? result.acked / result.seconds : null },
      null,
      2,
    ),
  );
  return result.failed > 0 || result.acked < result.sent ? 1 : 0;
}

async function subscribe(argv: string[], log: Logger): Promise<number> {
  const { values } = parseCommandArgs('taxi subscribe', argv, {
    file: { type: 'string' },
    subscribers: { type: 'string', default: '1' },
    records: { type: 'string' },
    qos: { type: 'string', default: '1' },
    'timeout-seconds': { type: 'string', default: '600' },
    'idle-seconds': { type: 'string', default: '10' },
    persistent: { type: 'boolean', default: false },
    ...TARGET_OPTIONS,
  });
  const subscribers = positive('--subscribers', values.subscribers, 'integer');
  const limit = positive('--records', values.records, 'integer');
  const qos = parseQos(values.qos);
  const target = targetFrom(values);
  const urls = await resolveTarget(target);
  const records = await load(values.file, limit, log);
  const subs = await Subscribers.start(splitShares(records, subscribers), {
    urls,
    qos,
    follow: followOf(target),
    persistent: values.persistent,
    protocolVersion: mqttVersion(values['mqtt-version']),
  });
  log.info(
    { urls, subscribers, expected: subs.expected },
    'taxi subscribe: subscribed; waiting for messages',
  );
  const bar = progressBar('subscribe', subs.expected);
  const complete = await subs.waitComplete({
    timeoutMs: positive('--timeout-seconds', values['timeout-seconds'], 'number') * 1000,
    idleMs: positive('--idle-seconds', values['idle-seconds'], 'number') * 1000,
    onProgress: (n) => bar.update(n),
  });
  bar.stop();
  await subs.close();
  console.log(JSON.stringify({ complete, ...subs.summary() }, null, 2));
  return complete ? 0 : 1;
}

export async function runTaxi(argv: string[], log: Logger): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'generate':
      return generate(rest);
    case 'publish':
      return publish(rest, log);
    case 'subscribe':
      return subscribe(rest, log);
    case 'ladder':
      return ladder(rest, log, targetFrom);
    default:
      console.error(`usage: brokel ${TAXI_USAGE}`);
      return 2;
  }
}
