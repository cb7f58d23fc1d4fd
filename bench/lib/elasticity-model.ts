import type { BrokelConfig } from '../../common/config/schema.ts';
import { linearCurve } from '../../manager/quality/capacity-curve.ts';
import { simulate } from '../../manager/quality/simulator.ts';
import type { StepPoint } from '../../manager/quality/step-series.ts';

/**
 * bench:elasticity `--model`: a trace through the simulator (the same decide() on a capacity model, no
 * processes) instead of for real, pure. The broker level carries `perBrokerMsgs` under the SLO at 80 %
 * of its CPU (as `brokel simulate` models it); an add is active `bootSeconds` after its decision. What
 * the model leaves out, and a real run has: a burst's backlog keeps a quota-capped broker busy after the
 * burst ends.
 */
export interface ModelRun {
  supply: StepPoint[];
  billed: StepPoint[];
  /** Seconds in which the supply was below demand: the modelled SLO violations. */
  sloViolationSeconds: number;
}

const SLO_CPU = 0.8;
/** The trace is sampled this finely (bursts are 1.5 observations long). */
const STEP_SECONDS = 0.1;

export function modelRun(o: {
  rateAt: (s: number) => number;
  seconds: number;
  config: BrokelConfig;
  perBrokerMsgs: number;
  bootSeconds: number;
}): ModelRun {
  const steps = Math.round(o.seconds / STEP_SECONDS);
  const rates = Float64Array.from({ length: steps }, (_, i) => o.rateAt(i * STEP_SECONDS));
  const full = o.perBrokerMsgs / SLO_CPU;
  const r = simulate({ stepSeconds: STEP_SECONDS, rates }, o.config, {
    fullMsgPerSecond: { broker: full, orchestrator: Number.MAX_SAFE_INTEGER },
    curves: { broker: linearCurve(o.perBrokerMsgs), orchestrator: linearCurve(Number.MAX_SAFE_INTEGER) },
    bootSeconds: { broker: o.bootSeconds, orchestrator: o.bootSeconds },
    drainSeconds: 0.5,
  });
  return {
    supply: r.levels.broker.supply,
    billed: r.levels.broker.billed,
    sloViolationSeconds: r.sloViolationSeconds,
  };
}
