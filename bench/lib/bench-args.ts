import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A numeric command-line option of a benchmark, within [min, max]; a clear error otherwise. */
export function num(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new Error(`--${name}: ${value} is not in ${min}..${max}`);
  return n;
}

/** A node-flags option of a benchmark (`--node-args='--flag --other'`): its words; none when unset. */
export function nodeFlags(value: string | undefined): string[] {
  return (value ?? '').split(/\s+/).filter(Boolean);
}

/**
 * An environment option of a benchmark (`--baseline-env='NAME=VALUE OTHER='`): its assignments; `NAME=`
 * (empty) leaves NAME unset in the child. A word without `=` or with a name that is not one is refused.
 */
export function envAssignments(option: string, value: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const word of nodeFlags(value)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(word);
    if (!m?.[1]) throw new Error(`--${option}: '${word}' is not NAME=VALUE`);
    env[m[1]] = m[2] ?? '';
  }
  return env;
}

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
type Values<O extends OptionSpecs> = ReturnType<typeof parseArgs<{ options: O }>>['values'];

/** A benchmark's usage: its command, what it does, and its options with their defaults (pure). */
export function benchUsage(command: string, summary: string, options: OptionSpecs): string {
  const lines = [
    `usage: npm run ${command} -- [options]`,
    summary,
    'options (docs/benchmarks.md says more):',
  ];
  const names = Object.keys(options).sort();
  const width = Math.max(...names.map((n) => n.length + 10));
  for (const name of names) {
    const spec = options[name];
    const flag = spec?.type === 'boolean' ? `--${name}` : `--${name} VALUE`;
    const value = spec?.default === undefined ? '' : `default ${String(spec.default)}`;
    const text = spec?.type === 'boolean' ? 'a switch' : value;
    lines.push(`  ${flag.padEnd(width)}${text}`.trimEnd());
  }
  lines.push(`  ${'--help'.padEnd(width)}this text`);
  return `${lines.join('\n')}\n`;
}

/**
 * Reads a benchmark's command line (pure): its options' values; for --help, the usage to print (exit
 * 0); for an unknown option, a missing value or a stray argument, node:util's message and the usage
 * (exit 2) instead of a stack trace.
 */
export function readBenchArgs<O extends OptionSpecs>(
  command: string,
  summary: string,
  options: O,
  args: string[],
): { values: Values<O> } | { exit: 0 | 2; text: string } {
  const usage = benchUsage(command, summary, options);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean' } }, strict: true });
  } catch (err) {
    return { exit: 2, text: `${command}: ${(err as Error).message}\n${usage}` };
  }
  if (parsed.values.help === true) return { exit: 0, text: usage };
  const { help: _help, ...values } = parsed.values;
  return { values: values as Values<O> };
}

/** readBenchArgs on this process's arguments: prints the usage or the error and exits when it says so. */
export function benchArgs<O extends OptionSpecs>(command: string, summary: string, options: O): Values<O> {
  const read = readBenchArgs(command, summary, options, process.argv.slice(2));
  if ('values' in read) return read.values;
  (read.exit === 0 ? process.stdout : process.stderr).write(read.text);
  process.exit(read.exit);
}
