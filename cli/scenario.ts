import { BrokelError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';

/** Placeholder while the `scenario` command is being built (its issue is open). */
export const SCENARIO_USAGE = 'scenario run NAME ...';

export async function runScenario(_argv: string[], _log: Logger): Promise<number> {
  throw new BrokelError('ENOTBUILT', 'brokel scenario: not built yet');
}
