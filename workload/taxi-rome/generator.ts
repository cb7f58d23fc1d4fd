import { MinHeap } from './min-heap.ts';
import { mulberry32 } from './random.ts';
import type { TaxiRecord } from './record.ts';

/**
 * A seeded synthetic Rome taxi trace in the roma/taxi format, pure (no I/O, no clock): `taxis` taxis
 * each report a fix every ~7 s (5–9 s, as in the real trace), time-ordered across taxis, moving at
 * street speeds inside Rome's ring road (a 10 km radius around the centre), some of them parked.
 * The same options give the same records on every machine.
 */
export interface GenerateOptions {
  records: number;
  taxis: number;
  seed: number;
  /** First fix's time; the real trace's start (2014-02-01 00:00:00+01) by default. */
  startEpochMicros?: number;
}

/** 2014-02-01 00:00:00+01, where the real trace starts. */
export const TRACE_START_MICROS = (Date.UTC(2014, 1, 1, 0, 0, 0) - 3_600_000) * 1000;
export const ROME_CENTRE = { lat: 41.9028, lon: 12.4964 } as const;
/** Inside the Grande Raccordo Anulare, roughly. */
export const ROME_RADIUS_M = 10_000;
export const MEAN_FIX_INTERVAL_S = 7;

const METRES_PER_DEG_LAT = 111_320;
const METRES_PER_DEG_LON = METRES_PER_DEG_LAT * Math.cos((ROME_CENTRE.lat * Math.PI) / 180);

interface Taxi {
  id: number;
  north: number;
  east: number;
  heading: number;
  speed: number;
  nextMicros: number;
}

/** Distance in metres from Rome's centre (flat approximation; fine at city scale). */
export function metresFromCentre(lat: number, lon: number): number {
  const north = (lat - ROME_CENTRE.lat) * METRES_PER_DEG_LAT;
  const east = (lon - ROME_CENTRE.lon) * METRES_PER_DEG_LON;
  return Math.hypot(north, east);
}

export function* generateTrace(options: GenerateOptions): Generator<TaxiRecord> {
  const random = mulberry32(options.seed);
  const start = options.startEpochMicros ?? TRACE_START_MICROS;
  const between = (lo: number, hi: number) => lo + (hi - lo) * random();
  // Driver ids like the real trace's: distinct integers in 1..370 for up to 370 taxis.
  const pool = Array.from({ length: Math.max(370, options.taxis) }, (_, i) => i + 1);
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j] as number, pool[i] as number];
  }
  const heap = new MinHeap<Taxi>(
    (a, b) => a.nextMicros < b.nextMicros || (a.nextMicros === b.nextMicros && a.id < b.id),
  );
  for (let i = 0; i < options.taxis; i++) {
    const r = ROME_RADIUS_M * Math.sqrt(random()) * 0.9;
    const angle = between(0, 2 * Math.PI);
    heap.push({
      id: pool[i] as number,
      north: r * Math.cos(angle),
      east: r * Math.sin(angle),
      heading: between(0, 2 * Math.PI),
      speed: random() < 0.25 ? 0 : between(2, 14),
      nextMicros: start + Math.floor(between(0, MEAN_FIX_INTERVAL_S * 1e6)),
    });
  }
  for (let n = 0; n < options.records && heap.size > 0; n++) {
    const taxi = heap.pop() as Taxi;
    const micros = ((taxi.nextMicros % 1e6) + 1e6) % 1e6;
    // Postgres prints microseconds without trailing zeros: 4 to 6 digits in the real file.
    const fractionDigits =
      micros === 0 ? 0 : 6 - (/0*$/.exec(String(micros).padStart(6, '0'))?.[0].length ?? 0);
    const decimals = 8 + Math.floor(random() * 6);
    yield {
      taxi: taxi.id,
      epochMicros: taxi.nextMicros,
      offsetMinutes: 60,
      fractionDigits,
      lat: Number((ROME_CENTRE.lat + taxi.north / METRES_PER_DEG_LAT).toFixed(decimals)),
      lon: Number((ROME_CENTRE.lon + taxi.east / METRES_PER_DEG_LON).toFixed(decimals)),
    };
    // Move for the interval until the next fix: turn a little, change speed, park or start again.
    const dt = between(5, 9);
    if (random() < 0.01)
      taxi.speed = taxi.speed === 0 ? between(2, 14) : 0; // park, or leave a rank
    else if (taxi.speed > 0) taxi.speed = Math.min(16, Math.max(1, taxi.speed + between(-2, 2)));
    taxi.heading += between(-0.5, 0.5);
    let north = taxi.north + Math.cos(taxi.heading) * taxi.speed * dt;
    let east = taxi.east + Math.sin(taxi.heading) * taxi.speed * dt;
    if (Math.hypot(north, east) > ROME_RADIUS_M) {
      // Turn back towards the centre instead of leaving the city.
      taxi.heading = Math.atan2(-taxi.east, -taxi.north);
      north = taxi.north;
      east = taxi.east;
    }
    taxi.north = north;
    taxi.east = east;
    taxi.nextMicros += Math.round(dt * 1e6);
    heap.push(taxi);
  }
}
