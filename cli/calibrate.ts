import { writeFile } from 'node:fs/promises';
import { ConfigError } from '../common/errors.ts';
import { calibrate } from '../workload/elasticity/calibrate.ts';
import { parseCommandArgs, positive } from './args.ts';

export const CALIBRATE_USAGE = `calibrate [--template mosquitto] [--cpu 0.1] [--max-brokers 2] [--slo-ms 200] [--start-rate 500]
               [--factor 1.5] [--max-steps 8] [--step-seconds 2] [--qos 1] [--out capacity-curve.json]
                           measure the capacity curve (highest msg/s n brokers carry under the p99 SLO)
                           on local processes, for brokel simulate --curve`;

export async function runCalibrate(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('calibrate', argv, {
    template: { type: 'string', default: 'mosquitto' },
    cpu: { type: 'string', default: '0.1' },
    'max-brokers': { type: 'string', default: '2' },
    'slo-ms': { type: 'string', default: '200' },
    'start-rate': { type: 'string', default: '500' },
    factor: { type: 'string', default: '1.5' },
    'max-steps': { type: 'string', default: '8' },
    'step-seconds': { type: 'string', default: '2' },
    publishers: { type: 'string', default: '4' },
    subscribers: { type: 'string', default: '4' },
    qos: { type: 'string', default: '1' },
    'address-block': { type: 'string', default: '127.46' },
    out: { type: 'string', default: 'capacity-curve.json' },
  });
  const factor = positive('--factor', values.factor, 'number');
  if (factor <= 1) throw new ConfigError([{ path: '--factor', message: `${factor} is not above 1` }]);
  const curve = await calibrate({
    template: values.template,
    cpuQuota: positive('--cpu', values.cpu, 'number'),
    maxBrokers: positive('--max-brokers', values['max-brokers'], 'integer'),
    sloMs: positive('--slo-ms', values['slo-ms'], 'number'),
    startRate: positive('--start-rate', values['start-rate'], 'number'),
    factor,
    maxSteps: positive('--max-steps', values['max-steps'], 'integer'),
    stepSeconds: positive('--step-seconds', values['step-seconds'], 'number'),
    publishers: positive('--publishers', values.publishers, 'integer'),
    subscribers: positive('--subscribers', values.subscribers, 'integer'),
    qos: values.qos === '0' ? 0 : 1,
    addressBlock: values['address-block'],
    onStep: (line) => console.log(line),
  });
  await writeFile(values.out, `${JSON.stringify(curve, null, 2)}\n`);
  for (const p of curve.points)
    console.log(
      `${p.brokers} broker(s): ${p.msgPerSecond} msg/s under p99 ${curve.sloMs} ms${p.cpu === undefined ? '' : ` at ${Math.round(p.cpu * 100)} % CPU`}`,
    );
  console.log(`wrote ${values.out}`);
  return 0;
}
