import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type SoakSample, soakVerdict, thirdFloorKb } from '../../bench/lib/soak-verdict.ts';

const series = (rss: number[], fds: number[] = rss.map(() => 50)): SoakSample[] =>
  rss.map((rssKb, i) => ({ t: i * 10, rssKb, fds: fds[i] ?? 50 }));

it('soak verdict: a saw-tooth passes; a rising floor, growing fds, or too few samples fail', () => {
  const [steady, leak, fdLeak, short] = soakVerdict(
    {
      steady: series([900, 100, 140, 100, 130, 101, 150, 102, 120, 103]),
      leak: series([100, 100, 100, 104, 106, 108, 108, 110, 112, 114]),
      fdLeak: series([100, 100, 100, 100, 100, 100, 100], [50, 50, 50, 51, 52, 53, 54]),
      short: series([100, 100, 100]),
    },
    10,
  );
  assert.equal(steady?.ok, true, steady?.why); // the warm-up sample (900) is not counted
  assert.equal(leak?.ok, false);
  assert.match(leak?.why ?? '', /RSS grew 10\.0 %/);
  assert.equal(fdLeak?.ok, false);
  assert.match(fdLeak?.why ?? '', /open fds grew/);
  assert.equal(short?.ok, false);
});

it('soak verdict, minute floors: a dip of a few minutes in the first third is not the reference; a leak still fails', () => {
  // 10 s samples over 30 minutes, thirds of 10 minutes. A saw-tooth 103 → 112 MB each 30 s. The
  // first third has three minutes at 80–95 MB (V8 gave memory back and took it again), as session
  // 44's 40-minute run did.
  const sawTooth = (i: number) => [103_000, 108_000, 112_000][i % 3] ?? 0;
  const dip = Array.from({ length: 180 }, (_, i) =>
    i >= 30 && i < 48 ? 80_000 + (i - 30) * 800 : sawTooth(i),
  );
  const leak = Array.from({ length: 180 }, (_, i) => sawTooth(i) + i * 60); // +10.8 MB over the run
  const [dipLowest, leakLowest] = soakVerdict({ dip: series(dip), leak: series(leak) }, 0);
  const [dipMinutes, leakMinutes] = soakVerdict({ dip: series(dip), leak: series(leak) }, 0, 0.05, 60);
  assert.equal(dipLowest?.ok, false, 'the lowest sample takes the dip as the first third floor');
  assert.equal(dipLowest?.rssStartKb, 80_000);
  assert.equal(dipMinutes?.ok, true, dipMinutes?.why);
  assert.equal(dipMinutes?.rssStartKb, 103_000);
  assert.equal(leakLowest?.ok, false);
  assert.equal(leakMinutes?.ok, false);
  assert.match(leakMinutes?.why ?? '', /RSS grew/);
});

it('soak verdict, minute floors: each minute lowest sample, then the upper quartile of those minutes', () => {
  const samples: SoakSample[] = [
    { t: 0, rssKb: 90, fds: 1 },
    { t: 30, rssKb: 70, fds: 1 }, // minute 0: 70
    { t: 60, rssKb: 100, fds: 1 }, // minute 1: 100
    { t: 120, rssKb: 60, fds: 1 }, // minute 2: 60
    { t: 180, rssKb: 80, fds: 1 }, // minute 3: 80
  ];
  assert.equal(thirdFloorKb(samples), 60);
  assert.equal(thirdFloorKb(samples, 60), 80); // nearest rank: the 3rd of 60, 70, 80, 100
});
