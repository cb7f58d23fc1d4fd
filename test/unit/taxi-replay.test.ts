import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateTrace } from '../../workload/taxi-rome/generator.ts';
import { DeliveryTracker, percentile, summariseLatency } from '../../workload/taxi-rome/measure.ts';
import { dueAtMs, sequenceNumbers } from '../../workload/taxi-rome/pacing.ts';
import { decodeMessage, encodeMessage } from '../../workload/taxi-rome/payload.ts';
import { assignTaxis, expectedPerTopic, splitShares } from '../../workload/taxi-rome/shares.ts';

const records = [...generateTrace({ records: 3000, taxis: 40, seed: 9 })];

describe('taxi replay: shares, pacing, payload', () => {
  it('splits by taxi: every fix in exactly one share, each taxi in one share, balanced', () => {
    const shares = splitShares(records, 4);
    assert.equal(shares.flat().length, records.length);
    const owner = assignTaxis(records, 4);
    for (const [i, share] of shares.entries()) for (const r of share) assert.equal(owner.get(r.taxi), i);
    const taxisPerShare = shares.map((s) => new Set(s.map((r) => r.taxi)).size);
    assert.deepEqual(taxisPerShare, [10, 10, 10, 10]);
    for (const share of shares)
      for (let i = 1; i < share.length; i++)
        assert.ok((share[i]?.epochMicros ?? 0) >= (share[i - 1]?.epochMicros ?? 0), 'trace order kept');
  });

  it('sequence numbers count per taxi and match what the subscriber expects per topic', () => {
    const share = splitShares(records, 3)[1] ?? [];
    const seqs = sequenceNumbers(share);
    const expected = expectedPerTopic(share);
    const max = new Map<number, number>();
    for (const [i, r] of share.entries()) max.set(r.taxi, Math.max(max.get(r.taxi) ?? -1, seqs[i] ?? -1));
    for (const [taxi, m] of max) assert.equal(expected.get(`taxi/${taxi}`), m + 1);
  });

  it('paces at a total rate across publishers, or on the trace clock sped up', () => {
    const r = records[100];
    assert.ok(r);
    assert.equal(dueAtMs({ kind: 'max' }, r, 100, 4, 0), 0);
    assert.equal(dueAtMs({ kind: 'rate', perSecond: 400 }, r, 100, 4, 0), 1000);
    const first = records[0]?.epochMicros ?? 0;
    const due = dueAtMs({ kind: 'speedup', factor: 10 }, r, 0, 4, first);
    assert.ok(Math.abs(due - (r.epochMicros - first) / 10_000) < 1e-6);
    assert.ok(due > 0);
  });

  it('the payload carries the fix, seq and send time', () => {
    const r = records[0];
    assert.ok(r);
    const m = decodeMessage(encodeMessage(r, 7, 1234.5));
    assert.deepEqual(m && { taxi: m.taxi, lat: m.lat, lon: m.lon, seq: m.seq, sentAt: m.sentAt }, {
      taxi: r.taxi,
      lat: r.lat,
      lon: r.lon,
      seq: 7,
      sentAt: 1234.5,
    });
    assert.match(m?.ts ?? '', /^2014-02-01 /);
    assert.equal(decodeMessage('not json'), undefined);
    assert.equal(decodeMessage('{"seq":1}'), undefined);
  });
});

describe('taxi replay: delivery accounting', () => {
  it('counts loss, duplicates, reordering and unexpected messages', () => {
    const t = new DeliveryTracker();
    t.expect('taxi/1', 5);
    t.expect('taxi/2', 2);
    const deliveries: Array<[string, number]> = [
      ['taxi/1', 0],
      ['taxi/1', 2],
      ['taxi/1', 1], // reordered
      ['taxi/1', 2], // duplicate
      ['taxi/1', 4],
      ['taxi/2', 1],
      ['taxi/2', 9], // unexpected seq
      ['taxi/3', 0], // unexpected topic
    ];
    for (const [i, [topic, seq]] of deliveries.entries()) t.record(topic, seq, 100, 110 + i);
    const s = t.summary();
    assert.deepEqual(
      { ...s, latencyMs: undefined },
      { expected: 7, received: 5, lost: 2, duplicates: 1, reordered: 1, unexpected: 2, latencyMs: undefined },
    );
    assert.equal(s.latencyMs.count, 5);
    assert.equal(s.latencyMs.p50, 12);
    assert.equal(s.latencyMs.max, 15);
    assert.equal(t.complete(), false);
    assert.throws(() => t.expect('taxi/1', 1), /expected twice/);
  });

  it('percentiles are nearest-rank', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(sorted, 50), 50);
    assert.equal(percentile(sorted, 99), 99);
    assert.equal(percentile(sorted, 100), 100);
    assert.equal(percentile([], 50), null);
    assert.deepEqual(summariseLatency([3, 1, 2]), { count: 3, mean: 2, p50: 2, p99: 3, max: 3 });
  });
});
