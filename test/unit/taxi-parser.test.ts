import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatLine, parseLine, parseTimestamp } from '../../workload/taxi-rome/parser.ts';
import { mulberry32 } from '../../workload/taxi-rome/random.ts';
import { loadTrace, newTraceStats, readTrace } from '../../workload/taxi-rome/trace-reader.ts';

const HEAD = new URL('../fixtures/taxi-rome-head.txt', import.meta.url).pathname;
const utc = (iso: string) => Date.parse(iso) * 1000;

describe('taxi parser: good lines', () => {
  const cases: Array<{
    name: string;
    line: string;
    taxi: number;
    micros: number;
    lat: number;
    lon: number;
    digits: number;
  }> = [
    {
      name: 'the real first line (6 fractional digits, +01)',
      line: '156;2014-02-01 00:00:00.739166+01;POINT(41.8836718276551 12.4877775603346)',
      taxi: 156,
      micros: utc('2014-01-31T23:00:00Z') + 739166,
      lat: 41.8836718276551,
      lon: 12.4877775603346,
      digits: 6,
    },
    {
      name: '5 fractional digits',
      line: '187;2014-02-01 00:00:01.14845+01;POINT(41.9285433333333 12.4690366666667)',
      taxi: 187,
      micros: utc('2014-01-31T23:00:01Z') + 148450,
      lat: 41.9285433333333,
      lon: 12.4690366666667,
      digits: 5,
    },
    {
      name: '4 fractional digits, 8-decimal coordinates',
      line: '79;2014-02-01 00:00:01.6311+01;POINT(41.90027472 12.46274618)',
      taxi: 79,
      micros: utc('2014-01-31T23:00:01Z') + 631100,
      lat: 41.90027472,
      lon: 12.46274618,
      digits: 4,
    },
    {
      name: 'no fraction',
      line: '3;2014-02-28 23:59:59+01;POINT(41.9 12.5)',
      taxi: 3,
      micros: utc('2014-02-28T22:59:59Z'),
      lat: 41.9,
      lon: 12.5,
      digits: 0,
    },
    {
      name: 'offset with minutes and a CRLF terminator',
      line: '3;2014-03-02 01:30:00.5+01:30;POINT(41.9 12.5)\r',
      taxi: 3,
      micros: utc('2014-03-02T00:00:00.5Z'),
      lat: 41.9,
      lon: 12.5,
      digits: 1,
    },
    {
      name: 'negative offset, negative coordinates',
      line: '0;2014-02-01 00:00:00-05;POINT(-41.5 -12.25)',
      taxi: 0,
      micros: utc('2014-02-01T05:00:00Z'),
      lat: -41.5,
      lon: -12.25,
      digits: 0,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = parseLine(c.line);
      assert.ok(result.ok, result.ok ? '' : result.reason);
      assert.equal(result.record.taxi, c.taxi);
      assert.equal(result.record.epochMicros, c.micros);
      assert.equal(result.record.lat, c.lat, 'latitude comes first');
      assert.equal(result.record.lon, c.lon);
      assert.equal(result.record.fractionDigits, c.digits);
    });
  }

  it('formatLine gives the real lines back byte for byte', () => {
    for (const c of cases.slice(0, 4)) {
      const result = parseLine(c.line);
      assert.ok(result.ok);
      assert.equal(formatLine(result.record), c.line);
    }
  });
});

describe('taxi parser: bad lines', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['empty', '', /empty/],
    ['two fields', '156;2014-02-01 00:00:00+01', /3 ';'-separated fields, got 2/],
    ['four fields', '156;2014-02-01 00:00:00+01;POINT(1 2);x', /got 4/],
    ['comma separated', '156,2014-02-01 00:00:00+01,POINT(1 2)', /got 1/],
    ['header line', 'DRIVER_ID;TIMESTAMP;POSITION', /driver id/],
    ['negative id', '-3;2014-02-01 00:00:00+01;POINT(41 12)', /driver id/],
    ['no offset', '3;2014-02-01 00:00:00.5;POINT(41 12)', /timestamp/],
    ['7 fractional digits', '3;2014-02-01 00:00:00.1234567+01;POINT(41 12)', /timestamp/],
    ['30 February', '3;2014-02-30 00:00:00+01;POINT(41 12)', /timestamp/],
    ['hour 24', '3;2014-02-01 24:00:00+01;POINT(41 12)', /timestamp/],
    ['month 13', '3;2014-13-01 00:00:00+01;POINT(41 12)', /timestamp/],
    ['not a POINT', '3;2014-02-01 00:00:00+01;41.9 12.5', /POINT/],
    ['comma inside POINT', '3;2014-02-01 00:00:00+01;POINT(41.9,12.5)', /POINT/],
    ['one coordinate', '3;2014-02-01 00:00:00+01;POINT(41.9)', /POINT/],
    ['non-numeric coordinate', '3;2014-02-01 00:00:00+01;POINT(41.9 east)', /numbers/],
    ['latitude out of range', '3;2014-02-01 00:00:00+01;POINT(91 12.5)', /latitude/],
    ['longitude out of range', '3;2014-02-01 00:00:00+01;POINT(41.9 181)', /longitude/],
  ];
  for (const [name, line, reason] of cases) {
    it(name, () => {
      const result = parseLine(line);
      assert.equal(result.ok, false);
      if (!result.ok) assert.match(result.reason, reason);
    });
  }

  it('random input never throws; whatever it accepts formats back to a line it accepts', () => {
    const random = mulberry32(42);
    const alphabet = '0123456789;:.-+ POINT()\r\tabc';
    const good = '156;2014-02-01 00:00:00.739166+01;POINT(41.8836718276551 12.4877775603346)';
    for (let i = 0; i < 5000; i++) {
      let line: string;
      if (i % 2 === 0) {
        line = Array.from(
          { length: Math.floor(random() * 80) },
          () => alphabet[Math.floor(random() * alphabet.length)],
        ).join('');
      } else {
        // A real line with one character changed.
        const at = Math.floor(random() * good.length);
        line =
          good.slice(0, at) + (alphabet[Math.floor(random() * alphabet.length)] ?? '') + good.slice(at + 1);
      }
      const result = parseLine(line);
      if (result.ok) assert.equal(parseLine(formatLine(result.record)).ok, true);
    }
  });

  it('parseTimestamp refuses an offset beyond ±14 h', () => {
    assert.equal(parseTimestamp('2014-02-01 00:00:00+15'), undefined);
    assert.ok(parseTimestamp('2014-02-01 00:00:00+14'));
  });
});

describe('taxi trace reader', () => {
  it('reads the real head of the file: 462 fixes, the trailing empty line is not a bad line', async () => {
    const stats = newTraceStats();
    const taxis = new Set<number>();
    let previous = Number.NEGATIVE_INFINITY;
    let outOfOrder = 0;
    for await (const r of readTrace(HEAD, stats)) {
      taxis.add(r.taxi);
      if (r.epochMicros < previous) outOfOrder += 1;
      previous = r.epochMicros;
      assert.ok(
        r.lat > 41 && r.lat < 43 && r.lon > 11 && r.lon < 13,
        `fix in the Rome area: ${r.lat} ${r.lon}`,
      );
    }
    assert.deepEqual(
      { records: stats.records, badLines: stats.badLines, lines: stats.lines },
      {
        records: 462,
        badLines: 0,
        lines: 463,
      },
    );
    assert.equal(outOfOrder, 0, 'the trace is time-ordered');
    assert.equal(taxis.size, 51);
  });

  it('counts bad lines with their line numbers and keeps going', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'taxi-parser-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'mixed.txt');
    await writeFile(
      file,
      [
        '1;2014-02-01 00:00:00+01;POINT(41.9 12.5)',
        'garbage',
        '',
        '2;2014-02-01 00:00:01+01;POINT(41.9 12.5)',
        '3;2014-02-30 00:00:02+01;POINT(41.9 12.5)',
        '4;2014-02-01 00:00:03+01;POINT(41.9 12.5)',
        '',
        '',
      ].join('\n'),
    );
    const { records, stats } = await loadTrace(file, 100);
    assert.deepEqual(
      records.map((r) => r.taxi),
      [1, 2, 4],
    );
    assert.deepEqual(
      stats.bad.map((b) => b.line),
      [2, 3, 5],
    );
    assert.equal(stats.badLines, 3, 'the blank lines at the end are not counted');
  });

  it('stops after the limit without reading the rest', async () => {
    const stats = newTraceStats();
    const { records } = await loadTrace(HEAD, 10);
    assert.equal(records.length, 10);
    for await (const _ of readTrace(HEAD, stats, { limit: 5 })) void _;
    assert.equal(stats.lines, 5);
  });

  it('a file of only bad lines is an error naming the first bad line', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'taxi-parser-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'bad.txt');
    await writeFile(file, 'a;b;c\nfoo\n');
    await assert.rejects(loadTrace(file, 10), /no valid record in 2 line\(s\) \(2 bad; line 1: driver id/);
    const empty = join(dir, 'empty.txt');
    await writeFile(empty, '\n\n');
    await assert.rejects(loadTrace(empty, 10), /no valid record/);
  });

  it('a missing file or a folder is an error naming the file and why', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'taxi-parser-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const missing = join(dir, 'missing.txt');
    await assert.rejects(loadTrace(missing, 10), { message: `trace file ${missing}: no such file` });
    await assert.rejects(loadTrace(dir, 10), { message: `trace file ${dir}: a folder, not a file` });
  });
});
