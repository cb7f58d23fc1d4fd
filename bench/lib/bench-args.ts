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
