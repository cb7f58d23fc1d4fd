/** A numeric command-line option of a benchmark, within [min, max]; a clear error otherwise. */
export function num(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new Error(`--${name}: ${value} is not in ${min}..${max}`);
  return n;
}
