import { parseArgs } from 'node:util';
import { ConfigError } from '../common/errors.ts';

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/** parseArgs with unknown flags and missing values turned into a ConfigError naming the flag. */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new ConfigError([{ path: command, message: (err as Error).message }]);
  }
}
