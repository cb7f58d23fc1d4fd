import { ConfigError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { runLadder } from '../workload/ladder/run.ts';
import { formatLadder, ladderSteps } from '../workload/ladder/tally.ts';
import { parseQos } from '../workload/taxi-rome/mqtt-clients.ts';
import { resolveTarget, type Target } from '../workload/taxi-rome/target.ts';
import { parseCommandArgs, positive } from './args.ts';
import { TARGET_OPTIONS } from './taxi-flags.ts';

export const LADDER_USAGE = `taxi ladder (--url URL | --dns HOST:PORT [--name NAME] [--port 1883]) [--mqtt-version 4|5]
               [--periods 1000,100,10,1,0] [--publishers 1,2,10] [--step-seconds 10] [--settle-seconds 10]
               [--qos 1] [--inflight 64] [--api http://127.0.0.1:9780] [--json]
                           the loss ladder: sequence-numbered publishes at each period (ms; 0 = flat out)
                           with each publisher count; loss, duplicates and latency per step beside the
                           replica count the manager (--api) listed`;

function list(flag: string, value: string, min: number): number[] {
  const out = value.split(',').map((v) => Number(v.trim()));
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < min))
    throw new ConfigError([
      { path: flag, message: `${JSON.stringify(value)} is not a list of integers ≥ ${min}` },
    ]);
  return out;
}

export async function ladder(
  argv: string[],
  log: Logger,
  target: (values: { url?: string; dns?: string; name?: string; port?: string }) => Target,
): Promise<number> {
  const { values } = parseCommandArgs('taxi ladder', argv, {
    periods: { type: 'string', default: '1000,100,10,1,0' },
    publishers: { type: 'string', default: '1,2,10' },
    'step-seconds': { type: 'string', default: '10' },
    'settle-seconds': { type: 'string', default: '10' },
    qos: { type: 'string', default: '1' },
    inflight: { type: 'string', default: '64' },
    api: { type: 'string' },
    json: { type: 'boolean', default: false },
    ...TARGET_OPTIONS,
  });
  const where = target(values);
  const urls = await resolveTarget(where);
  const version = values['mqtt-version'] === '5' ? 5 : 4;
  if (!['4', '5'].includes(values['mqtt-version']))
    throw new ConfigError([{ path: '--mqtt-version', message: `${values['mqtt-version']} is not 4 or 5` }]);
  const steps = ladderSteps(list('--periods', values.periods, 0), list('--publishers', values.publishers, 1));
  log.info({ urls, steps: steps.length }, 'taxi ladder: starting');
  const results = await runLadder({
    urls,
    follow: 'dns' in where ? { dns: where.dns, name: where.name } : undefined,
    protocolVersion: version,
    qos: parseQos(values.qos),
    steps,
    stepSeconds: positive('--step-seconds', values['step-seconds'], 'number'),
    settleSeconds: positive('--settle-seconds', values['settle-seconds'], 'number'),
    inflight: list('--inflight', values.inflight, 1)[0] ?? 64,
    api: values.api,
    runId: `l${process.pid}`,
    onStep: (r) =>
      log.info(
        { step: r.step.index, publishers: r.step.publishers, periodMs: r.step.periodMs, lost: r.lost },
        'taxi ladder: step done',
      ),
  });
  process.stdout.write(values.json ? `${JSON.stringify(results, null, 2)}\n` : formatLadder(results));
  return results.some((r) => r.lost > 0) ? 1 : 0;
}
