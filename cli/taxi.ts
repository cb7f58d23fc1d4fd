import { BrokelError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';

/** Placeholder while the `taxi` command is being built (its issue is open). */
export const TAXI_USAGE = 'taxi generate|publish|subscribe ...';

export async function runTaxi(_argv: string[], _log: Logger): Promise<number> {
  throw new BrokelError('ENOTBUILT', 'brokel taxi: not built yet');
}
