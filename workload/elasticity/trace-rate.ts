import { readTrace } from '../taxi-rome/trace-reader.ts';
import type { RateSeries } from './demand-trace.ts';

/**
 * The per-minute record rate of a Rome taxi trace file (streamed: the real one is 1.6 GB), from its
 * first record, for `days` days at most. Minutes without records count as zero.
 */
export async function traceRate(file: string, days: number): Promise<RateSeries> {
  const minutes = Math.round(days * 1440);
  const counts = new Float64Array(minutes);
  let first: number | undefined;
  let last = 0;
  for await (const r of readTrace(file)) {
    first ??= r.epochMicros;
    const minute = Math.floor((r.epochMicros - first) / 60e6);
    if (minute < 0) continue; // out of order before the first: ignored
    if (minute >= minutes) break;
    counts[minute] = (counts[minute] as number) + 1;
    last = Math.max(last, minute);
  }
  // A file shorter than `days` ends where its records end.
  return { stepSeconds: 60, rates: counts.slice(0, last + 1).map((c) => c / 60) };
}
