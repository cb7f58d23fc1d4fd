import type { BrokelConfig } from '../common/config/schema.ts';
import { type CapacityModel, type SimulationResult, simulate } from '../manager/quality/simulator.ts';

/** One policy's simulation in a child process (cli/simulate.ts forks one per policy). */
export interface SimulateJob {
  config: BrokelConfig;
  model: CapacityModel;
  rates: number[];
  stepSeconds: number;
}

export function runJob(job: SimulateJob): SimulationResult {
  return simulate(
    { stepSeconds: job.stepSeconds, rates: Float64Array.from(job.rates) },
    job.config,
    job.model,
  );
}

if (process.send) {
  process.once('message', (job: SimulateJob) => {
    const result = runJob(job);
    process.send?.(result, () => process.disconnect());
  });
}
