import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateTrace, metresFromCentre, ROME_RADIUS_M } from '../../workload/taxi-rome/generator.ts';
import { formatLine } from '../../workload/taxi-rome/parser.ts';
import type { TaxiRecord } from '../../workload/taxi-rome/record.ts';
import { loadTrace } from '../../workload/taxi-rome/trace-reader.ts';
import { writeTrace } from '../../workload/taxi-rome/trace-writer.ts';

const SAMPLE = new URL('../../workload/taxi-rome/sample/taxi-sample-10k.txt', import.meta.url).pathname;

function metres(a: TaxiRecord, b: TaxiRecord): number {
  const north = (a.lat - b.lat) * 111_320;
  const east = (a.lon - b.lon) * 111_320 * Math.cos((a.lat * Math.PI) / 180);
  return Math.hypot(north, east);
}

describe('taxi generator', () => {
  it('is deterministic by seed, and another seed gives another trace', () => {
    const a = [...generateTrace({ records: 2000, taxis: 316, seed: 11 })].map(formatLine);
    const b = [...generateTrace({ records: 2000, taxis: 316, seed: 11 })].map(formatLine);
    const c = [...generateTrace({ records: 2000, taxis: 316, seed: 12 })].map(formatLine);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('writes exactly N time-ordered fixes of the given number of taxis, ~1 per taxi every 7 s', () => {
    const records = [...generateTrace({ records: 20_000, taxis: 316, seed: 3 })];
    assert.equal(records.length, 20_000);
    for (let i = 1; i < records.length; i++)
      assert.ok(
        (records[i] as TaxiRecord).epochMicros >= (records[i - 1] as TaxiRecord).epochMicros,
        `ordered at ${i}`,
      );
    const byTaxi = new Map<number, TaxiRecord[]>();
    for (const r of records) byTaxi.set(r.taxi, [...(byTaxi.get(r.taxi) ?? []), r]);
    assert.equal(byTaxi.size, 316);
    const gaps: number[] = [];
    let fastest = 0;
    for (const fixes of byTaxi.values()) {
      for (let i = 1; i < fixes.length; i++) {
        const prev = fixes[i - 1] as TaxiRecord;
        const cur = fixes[i] as TaxiRecord;
        const seconds = (cur.epochMicros - prev.epochMicros) / 1e6;
        gaps.push(seconds);
        fastest = Math.max(fastest, metres(prev, cur) / seconds);
      }
    }
    const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
    assert.ok(mean > 6.5 && mean < 7.5, `mean interval per taxi ${mean.toFixed(2)} s`);
    assert.ok(Math.min(...gaps) >= 5 && Math.max(...gaps) <= 9);
    assert.ok(fastest < 17, `street speeds: fastest ${fastest.toFixed(1)} m/s`);
    for (const r of records) assert.ok(metresFromCentre(r.lat, r.lon) <= ROME_RADIUS_M + 1, 'inside Rome');
    const moved = [...byTaxi.values()].filter((f) => metres(f[0] as TaxiRecord, f.at(-1) as TaxiRecord) > 50);
    assert.ok(
      moved.length > 150 && moved.length < 316,
      `most taxis move, some stay parked (${moved.length})`,
    );
  });

  it('generate → file → parse gives the same records back (round trip)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'taxi-gen-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'trace.txt');
    const generated = [...generateTrace({ records: 5000, taxis: 50, seed: 5 })];
    assert.equal(await writeTrace(generated, file), 5000);
    const { records, stats } = await loadTrace(file, 1e9);
    assert.equal(stats.badLines, 0);
    assert.deepEqual(records, generated);
    assert.match(
      (await readFile(file, 'utf8')).split('\n')[0] ?? '',
      /^\d+;2014-02-01 00:00:0\d(\.\d{1,6})?\+01;POINT\(41\.\d+ 12\.\d+\)$/,
    );
  });

  it('the shipped sample is `taxi generate --records 10000 --seed 1` and under 1 MB', async () => {
    const text = await readFile(SAMPLE, 'utf8');
    assert.ok(Buffer.byteLength(text) <= 1_000_000);
    const expected = [...generateTrace({ records: 10_000, taxis: 316, seed: 1 })].map(formatLine);
    assert.deepEqual(text.trimEnd().split('\n'), expected);
  });
});
