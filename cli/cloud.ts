import { BrokelError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';

/** Placeholder while the `cloud` command is being built (its issue is open). */
export const CLOUD_USAGE = 'cloud serve --listen HOST:PORT --token T';

export async function runCloud(_argv: string[], _log: Logger): Promise<number> {
  throw new BrokelError('ENOTBUILT', 'brokel cloud: not built yet');
}
