import { ConfigError } from '../common/errors.ts';

/** `--flag N`: a whole number ≥ 1 (or the fallback when absent and one is given). */
export function positiveInt(flag: string, value: string | undefined, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 1)
    throw new ConfigError([{ path: flag, message: `${JSON.stringify(value)} is not a positive integer` }]);
  return n;
}

/** `--flag X`: a finite number > 0. */
export function positiveNumber(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new ConfigError([{ path: flag, message: `${JSON.stringify(value)} is not a positive number` }]);
  return n;
}

/** Where taxi clients connect: `--url URL`, or `--dns HOST:PORT` with `--name` and `--port`. */
export const TARGET_OPTIONS = {
  'mqtt-version': { type: 'string', default: '4' },
  url: { type: 'string' },
  dns: { type: 'string' },
  name: { type: 'string', default: 'mqtt.brokel.test' },
  port: { type: 'string', default: '1883' },
} as const;
