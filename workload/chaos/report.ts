import type { LedgerSummary } from './ledger.ts';

/** What `npm run chaos` reports (JSON, and as text). */
export interface ChaosReport {
  seed: number;
  minutes: number;
  ratePerSecond: number;
  loadAverage: { before: number[]; after: number[] };
  delivery: LedgerSummary;
  /** Replicas the provider runs that the manager does not list (must be none). */
  orphaned: string[];
  /** Creates asked for while another create of the same level was still booting (must be none). */
  duplicateActions: string[];
  /** Replica processes still alive after the run tore the deployment down (must be none). */
  leftoverProcesses: number[];
  managerStarts: number;
  timeline: string[];
  /** Every create the provider got: ms after the traffic started (ready and gone: null when never). */
  creates: Array<{
    id: string;
    level: string;
    requestedAt: number;
    readyAt: number | null;
    goneAt: number | null;
  }>;
  /** When each fault was in force, epoch ms. */
  faultWindows: Array<{ kind: string; from: number; to: number; what: string }>;
  /** Why the run failed; empty when it passed. */
  failures: string[];
}

/** The verdict, pure: anything lost, unacknowledged, orphaned, duplicated as an action, left behind, or a manager restart that failed. */
export function failuresOf(r: Omit<ChaosReport, 'failures'>): string[] {
  const out: string[] = [];
  if (r.delivery.lost > 0) out.push(`${r.delivery.lost} messages lost`);
  if (r.delivery.unacked > 0) out.push(`${r.delivery.unacked} publishes never acknowledged`);
  if (r.delivery.sent === 0) out.push('nothing was sent');
  if (r.orphaned.length > 0) out.push(`orphaned replicas: ${r.orphaned.join(', ')}`);
  if (r.duplicateActions.length > 0) out.push(`duplicate scaling actions: ${r.duplicateActions.join(', ')}`);
  if (r.leftoverProcesses.length > 0) out.push(`processes left: ${r.leftoverProcesses.join(', ')}`);
  // A manager that never came back up: the rest of the run had no control plane (not a pass).
  const restarts = r.timeline.filter((l) => /manager restart failed|kill-manager.*: failed: /.test(l));
  if (restarts.length > 0) out.push(`manager restarts failed: ${restarts.join('; ')}`);
  return out;
}

/**
 * Lost messages of clean sessions acknowledged within `marginMs` of an orchestrator→broker link reset
 * (docs/chaos.md, "Known defect"): the broker had the publish, the subscriber's upstream link to it was
 * reset, and its clean session there went with what it was delivering, while the client itself stayed
 * connected. Pure; only the lost samples are looked at (the first 20 per subscriber).
 */
export function lossesNearLinkReset(r: Omit<ChaosReport, 'failures'>, marginMs = 1000): number {
  const resets = r.faultWindows.filter((w) => w.kind === 'net-reset');
  let n = 0;
  for (const s of r.delivery.subscribers) {
    if (s.persistent) continue;
    for (const l of s.lostSample)
      if (resets.some((w) => l.ackAt >= w.from - marginMs && l.ackAt <= w.to + marginMs)) n += 1;
  }
  return n;
}

const pct = (n: number, of: number) => (of > 0 ? `${((100 * n) / of).toFixed(2)} %` : '-');

export function formatReport(r: ChaosReport): string {
  const d = r.delivery;
  const lines = [
    `chaos seed ${r.seed}, ${r.minutes} min at ${r.ratePerSecond} msg/s QoS 1; load average ${r.loadAverage.before.map((v) => v.toFixed(2)).join(' ')} → ${r.loadAverage.after.map((v) => v.toFixed(2)).join(' ')}`,
    `sent ${d.sent}, acknowledged ${d.acked}, unacknowledged ${d.unacked}`,
    `lost ${d.lost}${d.lost > 0 ? ` (${lossesNearLinkReset(r)} at clean sessions next to a link reset)` : ''}, duplicated ${d.duplicates}, reordered ${d.reordered}, longest delivery stall ${(d.longestStallMs / 1000).toFixed(2)} s`,
    'subscriber            owed  received  lost  excused  duplicates  reordered  reconnects  stall s',
    ...d.subscribers.map(
      (s) =>
        `${s.name.padEnd(20)} ${String(s.owed).padStart(5)} ${String(s.received).padStart(9)} ${String(s.lost).padStart(5)} ${String(s.excused).padStart(8)} ${`${s.duplicates} (${pct(s.duplicates, s.received)})`.padStart(11)} ${String(s.reordered).padStart(10)} ${String(s.reconnects).padStart(11)} ${(s.longestStallMs / 1000).toFixed(2).padStart(8)}`,
    ),
    `replicas orphaned ${r.orphaned.length}, duplicate scaling actions ${r.duplicateActions.length}, processes left ${r.leftoverProcesses.length}, manager starts ${r.managerStarts}`,
    'fault timeline:',
    ...r.timeline.map((l) => `  ${l}`),
    r.failures.length === 0 ? 'PASS' : `FAIL: ${r.failures.join('; ')}`,
  ];
  return `${lines.join('\n')}\n`;
}
