import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { BrokelError } from '../../common/errors.ts';
import { parseLine } from './parser.ts';
import type { BadLine, TaxiRecord } from './record.ts';

/** What a read saw besides the records: how many lines, and the bad ones (first `keepBad` in full). */
export interface TraceStats {
  lines: number;
  records: number;
  badLines: number;
  bad: BadLine[];
}

export interface ReadTraceOptions {
  /** Stop after this many good records (the rest of the file is not read). */
  limit?: number;
  /** How many bad lines to keep with their text (all are counted). Default 100. */
  keepBad?: number;
  /** Called with the byte offset read so far, for a progress bar. */
  onBytes?: (bytes: number) => void;
}

/** Empty lines at the very end (the published file ends with one) are not bad lines. */
function isBlank(text: string): boolean {
  return text.trim() === '';
}

/**
 * Streams a trace file line by line (the real one is 1.6 GB: never loaded whole), yielding good records.
 * Bad lines are counted into `stats` with their line numbers, not fatal; a file that had lines but no
 * good record (or no line at all) is an error (`trace_no_records`). Blank lines count as bad only when a
 * good line follows them (the published file ends with an empty line).
 */
export async function* readTrace(
  file: string,
  stats: TraceStats = newTraceStats(),
  options: ReadTraceOptions = {},
): AsyncGenerator<TaxiRecord> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const keepBad = options.keepBad ?? 100;
  const input = createReadStream(file);
  if (options.onBytes) {
    const onBytes = options.onBytes;
    input.on('data', () => onBytes(input.bytesRead));
  }
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  const pendingBlank: number[] = [];
  const addBad = (bad: BadLine) => {
    stats.badLines += 1;
    if (stats.bad.length < keepBad) stats.bad.push(bad);
  };
  // The stream's open error (no such file, a folder, no permission) surfaces at the first read.
  const unreadable = (err: unknown) => {
    const e = err as NodeJS.ErrnoException;
    const why: Record<string, string> = {
      ENOENT: 'no such file',
      EISDIR: 'a folder, not a file',
      EACCES: 'not readable (permission denied)',
    };
    const reason = e.code === undefined ? undefined : why[e.code];
    return reason === undefined ? err : new BrokelError('trace_unreadable', `trace file ${file}: ${reason}`);
  };
  try {
    if (limit <= 0) return;
    for await (const text of lines) {
      stats.lines += 1;
      if (isBlank(text)) {
        pendingBlank.push(stats.lines);
        continue;
      }
      for (const n of pendingBlank.splice(0)) addBad({ line: n, reason: 'empty line', text: '' });
      const result = parseLine(text);
      if (!result.ok) {
        addBad({ line: stats.lines, reason: result.reason, text: text.slice(0, 200) });
        continue;
      }
      stats.records += 1;
      yield result.record;
      if (stats.records >= limit) return;
    }
  } catch (err) {
    throw unreadable(err);
  } finally {
    lines.close();
    input.destroy();
  }
  if (stats.records === 0) {
    for (const n of pendingBlank) addBad({ line: n, reason: 'empty line', text: '' });
    const first = stats.bad[0];
    const why = first ? `; line ${first.line}: ${first.reason}` : '';
    throw new BrokelError(
      'trace_no_records',
      `${file}: no valid record in ${stats.lines} line(s) (${stats.badLines} bad${why})`,
    );
  }
}

export function newTraceStats(): TraceStats {
  return { lines: 0, records: 0, badLines: 0, bad: [] };
}

/** Reads the first `limit` good records into memory (a replay needs them all before it starts). */
export async function loadTrace(
  file: string,
  limit: number,
  options: Omit<ReadTraceOptions, 'limit'> = {},
): Promise<{ records: TaxiRecord[]; stats: TraceStats }> {
  const stats = newTraceStats();
  const records: TaxiRecord[] = [];
  for await (const r of readTrace(file, stats, { ...options, limit })) records.push(r);
  if (records.length === 0) throw new BrokelError('trace_no_records', `${file}: no valid record`);
  return { records, stats };
}

/** A one-line summary of the bad lines, for the log ("3 bad lines: 12 (reason), 40 (reason), …"). */
export function describeBadLines(stats: TraceStats, show = 5): string {
  if (stats.badLines === 0) return 'no bad lines';
  const shown = stats.bad
    .slice(0, show)
    .map((b) => `line ${b.line} (${b.reason})`)
    .join(', ');
  const more = stats.badLines > show ? `, and ${stats.badLines - show} more` : '';
  return `${stats.badLines} bad line(s): ${shown}${more}`;
}
