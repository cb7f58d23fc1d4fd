import { parseArgs } from 'node:util';
import { ConfigError } from '../common/errors.ts';

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/** A flag's value that must be one of `allowed`, or a ConfigError naming the flag and the choices. */
export function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  const list = allowed.map((a) => JSON.stringify(a)).join(', ');
  throw new ConfigError([{ path: flag, message: `${JSON.stringify(value)} is not one of ${list}` }]);
}

/**
 * `--flag X`: a finite number > 0, a whole one for 'integer'; `fallback` when the flag is absent and
 * one is given. Anything else is a ConfigError naming the flag and the value.
 */
export function positive(
  flag: string,
  value: string | undefined,
  kind: 'number' | 'integer',
  fallback?: number,
): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n <= 0 || (kind === 'integer' && !Number.isInteger(n)))
    throw new ConfigError([{ path: flag, message: `${JSON.stringify(value)} is not a positive ${kind}` }]);
  return n;
}

/** parseArgs with unknown flags and missing values turned into a ConfigError naming the flag. */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new ConfigError([{ path: command, message: (err as Error).message }]);
  }
}
