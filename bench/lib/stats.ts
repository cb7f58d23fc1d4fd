// Small pure helpers for the benchmarks: medians, percentiles, number formatting.

export function median(xs: readonly number[]): number {
  const finite = xs.filter((x) => Number.isFinite(x));
  if (finite.length === 0) return Number.NaN;
  const s = [...finite].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** Nearest-rank percentile (p in 0..100) of the first `count` values; sorts them in place. */
export function percentiles(values: Float64Array, count: number, ps: readonly number[]): number[] {
  if (count === 0) return ps.map(() => Number.NaN);
  const sorted = values.subarray(0, count).sort();
  return ps.map(
    (p) => sorted[Math.min(count - 1, Math.max(0, Math.ceil((p / 100) * count) - 1))] ?? Number.NaN,
  );
}

/** `12,345` (NaN as `–`). */
export function fmtInt(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–';
}

/** Fixed decimals (NaN as `–`). */
export function fmt(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '–';
}

/** Right-aligned columns; the first column left-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * Values 2k and 2k + 1 combined by their geometric mean (an odd last one is left out): ratios measured
 * in two opposite orders, whose bias each way cancels (bench/ab-pair.ts).
 */
export function pairedGeometricMeans(xs: readonly number[]): number[] {
  const out: number[] = [];
  for (let k = 0; k + 1 < xs.length; k += 2)
    out.push(Math.sqrt((xs[k] ?? Number.NaN) * (xs[k + 1] ?? Number.NaN)));
  return out;
}
