import { BrokelError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';

/** Placeholder while the `dns` command is being built (its issue is open). */
export const DNS_USAGE = 'dns --listen HOST:PORT [--config FILE]';

export async function runDns(_argv: string[], _log: Logger): Promise<number> {
  throw new BrokelError('ENOTBUILT', 'brokel dns: not built yet');
}
