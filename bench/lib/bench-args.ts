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
