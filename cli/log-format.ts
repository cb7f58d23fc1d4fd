import { ConfigError } from '../common/errors.ts';
import type { LogFormat } from '../common/logger.ts';

const FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/**
 * Takes `--log-format json|pretty` (or `--log-format=…`) out of the arguments, wherever it is before a
 * `--`, so every command accepts it. Returns the rest and the format asked for (undefined: none).
 */
export function takeLogFormat(argv: readonly string[]): { argv: string[]; format: LogFormat | undefined } {
  const rest: string[] = [];
  let format: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === '--log-format') {
      format = argv[++i];
      if (format === undefined) throw problem('a value is needed');
    } else if (arg.startsWith('--log-format=')) format = arg.slice('--log-format='.length);
    else rest.push(arg);
  }
  if (format !== undefined && !FORMATS.includes(format as LogFormat))
    throw problem(`${JSON.stringify(format)} is not one of "json", "pretty"`);
  return { argv: rest, format: format as LogFormat | undefined };
}

function problem(message: string): ConfigError {
  return new ConfigError([{ path: '--log-format', message }]);
}

/** The format used: the flag, else BROKEL_LOG_FORMAT, else pretty on a terminal and JSON otherwise. */
export function chooseLogFormat(
  flag: LogFormat | undefined,
  env: string | undefined,
  stdoutIsTty: boolean,
): LogFormat {
  if (flag) return flag;
  if (env !== undefined && env !== '') return takeLogFormat(['--log-format', env]).format ?? 'json';
  return stdoutIsTty ? 'pretty' : 'json';
}
