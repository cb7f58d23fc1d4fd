import type { TaxiRecord } from './record.ts';

/**
 * The roma/taxi line format, pure: `156;2014-02-01 00:00:00.739166+01;POINT(41.8836718276551 12.4877775603346)`.
 * `;` separated, no header, latitude first; the timestamp has 0–6 fractional digits and a `±HH[:MM]`
 * offset (the trace always says `+01`). No I/O here: trace-reader.ts streams files through it.
 */

export type ParseResult = { ok: true; record: TaxiRecord } | { ok: false; reason: string };

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?([+-])(\d{2})(?::?(\d{2}))?$/;
const POINT = /^POINT\((\S+) (\S+)\)$/;
const NUMBER = /^[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const TAXI_ID = /^\d{1,9}$/;

function fail(reason: string): ParseResult {
  return { ok: false, reason };
}

/** Parses one timestamp to epoch microseconds; undefined when it is not a valid instant. */
export function parseTimestamp(
  text: string,
): { epochMicros: number; offsetMinutes: number; fractionDigits: number } | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', sign, oh, om = '00'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const utcMs = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 31 February over to March: refuse dates that do not exist.
  if (new Date(utcMs).getUTCDate() !== day) return undefined;
  const offsetMinutes = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  if (Math.abs(offsetMinutes) > 14 * 60) return undefined;
  const micros = frac === '' ? 0 : Number(frac.padEnd(6, '0'));
  return {
    epochMicros: (utcMs - offsetMinutes * 60_000) * 1000 + micros,
    offsetMinutes,
    fractionDigits: frac.length,
  };
}

/** Parses one line of the trace (without its line terminator). */
export function parseLine(raw: string): ParseResult {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line.trim() === '') return fail('empty line');
  const fields = line.split(';');
  if (fields.length !== 3) return fail(`expected 3 ';'-separated fields, got ${fields.length}`);
  const [idText = '', timeText = '', pointText = ''] = fields.map((f) => f.trim());
  if (!TAXI_ID.test(idText)) return fail(`driver id ${JSON.stringify(idText)} is not a non-negative integer`);
  const time = parseTimestamp(timeText);
  if (!time) return fail(`timestamp ${JSON.stringify(timeText)} is not YYYY-MM-DD HH:MM:SS[.ffffff]±HH`);
  const point = POINT.exec(pointText);
  if (!point) return fail(`position ${JSON.stringify(pointText)} is not POINT(LAT LON)`);
  const [, latText = '', lonText = ''] = point;
  if (!NUMBER.test(latText) || !NUMBER.test(lonText)) return fail('coordinates are not numbers');
  const lat = Number(latText);
  const lon = Number(lonText);
  if (lat < -90 || lat > 90) return fail(`latitude ${lat} is outside [-90, 90]`);
  if (lon < -180 || lon > 180) return fail(`longitude ${lon} is outside [-180, 180]`);
  return { ok: true, record: { taxi: Number(idText), ...time, lat, lon } };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** Formats a timestamp as the trace does (`2014-02-01 00:00:00.739166+01`). */
export function formatTimestamp(epochMicros: number, offsetMinutes: number, fractionDigits: number): string {
  const micros = ((epochMicros % 1_000_000) + 1_000_000) % 1_000_000;
  const wholeMs = (epochMicros - micros) / 1000 + offsetMinutes * 60_000;
  const d = new Date(wholeMs);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const frac = fractionDigits > 0 ? `.${pad(micros, 6).slice(0, fractionDigits)}` : '';
  const abs = Math.abs(offsetMinutes);
  const offset = `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}${abs % 60 ? `:${pad(abs % 60)}` : ''}`;
  return `${date} ${time}${frac}${offset}`;
}

/** Formats a record as one trace line (no terminator); parseLine(formatLine(r)) gives r back. */
export function formatLine(r: TaxiRecord): string {
  return `${r.taxi};${formatTimestamp(r.epochMicros, r.offsetMinutes, r.fractionDigits)};POINT(${r.lat} ${r.lon})`;
}

/** The record's time in epoch milliseconds (fractional). */
export function recordTimeMs(r: TaxiRecord): number {
  return r.epochMicros / 1000;
}
