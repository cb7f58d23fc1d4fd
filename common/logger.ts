import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

export interface LoggerSettings {
  level?: string;
  /** Where the JSON lines go; stdout when absent. */
  destination?: NodeJS.WritableStream;
}

/**
 * The process-wide root logger: pino, JSON lines. Only main.ts decides the level (from flags or
 * environment); components take a child with `component` bound, sessions add `{clientId}`.
 */
export function createRootLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return settings.destination ? pino(options, settings.destination) : pino(options);
}

/** A logger that writes nothing, for unit tests and library use without a root. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
