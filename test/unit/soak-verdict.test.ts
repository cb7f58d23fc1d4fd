import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type SoakSample, soakVerdict } from '../../bench/lib/soak-verdict.ts';

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
