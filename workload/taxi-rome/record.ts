/** One GPS fix of the CRAWDAD roma/taxi trace: `DRIVER_ID;TIMESTAMP;POINT(LAT LON)`. */
export interface TaxiRecord {
  /** The driver (taxi) id, a non-negative integer. */
  taxi: number;
  /** Microseconds since the Unix epoch (UTC); exact for the trace's 6 fractional digits. */
  epochMicros: number;
  /** The timestamp's UTC offset in minutes (+60 for the trace's `+01`). */
  offsetMinutes: number;
  /** How many fractional-second digits the timestamp had (0–6), kept so a line round-trips. */
  fractionDigits: number;
  lat: number;
  lon: number;
}

/** A line the parser refused: its 1-based number in the file, a short reason and the text. */
export interface BadLine {
  line: number;
  reason: string;
  text: string;
}
