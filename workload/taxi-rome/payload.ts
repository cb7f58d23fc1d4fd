import { formatTimestamp } from './parser.ts';
import type { TaxiRecord } from './record.ts';

/**
 * The message a publisher sends for one fix, on topic `taxi/<id>`: the fix (position and trace time)
 * plus what the subscriber measures with: `seq`, the fix's index within its taxi's stream (0, 1, 2, …
 * per topic), and `sentAt`, the send time in epoch milliseconds with sub-millisecond precision
 * (publishers and subscribers share this machine's clock).
 */
export interface TaxiMessage {
  taxi: number;
  ts: string;
  lat: number;
  lon: number;
  seq: number;
  sentAt: number;
}

export function encodeMessage(r: TaxiRecord, seq: number, sentAt: number): Buffer {
  const message: TaxiMessage = {
    taxi: r.taxi,
    ts: formatTimestamp(r.epochMicros, r.offsetMinutes, r.fractionDigits),
    lat: r.lat,
    lon: r.lon,
    seq,
    sentAt,
  };
  return Buffer.from(JSON.stringify(message));
}

/** The message in a payload, or undefined when it is not one of ours. */
export function decodeMessage(payload: Buffer | string): TaxiMessage | undefined {
  try {
    const m = JSON.parse(payload.toString()) as Partial<TaxiMessage>;
    if (typeof m.seq !== 'number' || typeof m.sentAt !== 'number' || typeof m.taxi !== 'number')
      return undefined;
    return m as TaxiMessage;
  } catch {
    return undefined;
  }
}

/** Wall-clock now in epoch milliseconds with sub-millisecond precision. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}
