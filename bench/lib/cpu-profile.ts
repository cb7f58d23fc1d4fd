// A V8 CPU profile (`node --cpu-prof`) summed up: the functions with the most self time, so the next
// person sees where the orchestrator's time goes. Pure but for reading the file.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTimeRow {
  fn: string;
  /** Self time in ms, and its share of the busy (not idle) sampled time. */
  selfMs: number;
  share: number;
}

/**
 * Top `n` functions by self time; idle is left out of the rows and of the shares' total. Samples in
 * the first `fromUs` of the profile (start-up) are skipped.
 */
export function topSelfTime(profile: CpuProfile, n: number, fromUs = 0): SelfTimeRow[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, number>();
  let total = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let at = 0;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    if (at < fromUs) continue;
    const node = byId.get(samples[i] ?? -1);
    const dt = deltas[i + 1] ?? deltas[i] ?? 0;
    total += dt;
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^file:\/\/.*?\/(node_modules|orchestrator|common|bench|cli)\//, '$1/');
    const key = `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
  }
  for (const [key, us] of selfUs) if (key.startsWith('(idle)')) total -= us;
  return [...selfUs.entries()]
    .filter(([key]) => !key.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, us]) => ({ fn, selfMs: us / 1000, share: total > 0 ? us / total : 0 }));
}

export function readCpuProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

export function formatTopSelfTime(rows: readonly SelfTimeRow[]): string {
  const lines = rows.map(
    (r) => `${r.selfMs.toFixed(0).padStart(8)} ms ${(r.share * 100).toFixed(1).padStart(5)} %  ${r.fn}`,
  );
  return ['   self      share  function', ...lines].join('\n');
}

// `node --import tsx bench/lib/cpu-profile.ts FILE [N]`: print one profile's summary.
if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, n] = process.argv.slice(2);
  if (!file) throw new Error('usage: cpu-profile.ts FILE.cpuprofile [N]');
  console.log(formatTopSelfTime(topSelfTime(readCpuProfile(file), Number(n ?? 15))));
}

/** The largest .cpuprofile in `dir` (the process's own, not a short-lived child's), if any. */
export function largestProfile(dir: string): string | undefined {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .sort((x, y) => statSync(y).size - statSync(x).size)[0];
}
