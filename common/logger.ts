import { createRequire } from 'node:module';
import { type Logger, type LoggerOptions, pino } from 'pino';
import type PinoPretty from 'pino-pretty';

export type { Logger } from 'pino';

/** JSON lines (for machines and log collectors) or pino-pretty's human-readable lines. */
export type LogFormat = 'json' | 'pretty';

export interface LoggerSettings {
  level?: string;
  /** Where the lines go; stdout when absent. */
  destination?: NodeJS.WritableStream;
  /** JSON unless asked; main.ts picks pretty for a terminal. */
  format?: LogFormat;
}

/**
 * The process-wide root logger: pino, JSON lines, or pretty ones when asked. Only main.ts decides
 * the level and the format (from flags, environment, whether stdout is a terminal); components take a
 * child with `component` bound, sessions add `{clientId}`.
 */
export function createRootLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (settings.format === 'pretty') {
    // Loaded only when asked: ~1 MB of an orchestrator replica's idle RSS, which logs JSON.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    // In this thread and synchronous: a line is out before the process exits, no worker to stop.
    const stream = pretty({
      sync: true,
      colorize: settings.destination === undefined && process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,component',
      messageFormat: '{if component}{component}: {end}{msg}',
      singleLine: true,
      destination: settings.destination ?? 1,
    });
    return pino(options, stream);
  }
  return settings.destination ? pino(options, settings.destination) : pino(options);
}

/** A logger that writes nothing, for unit tests and library use without a root. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
