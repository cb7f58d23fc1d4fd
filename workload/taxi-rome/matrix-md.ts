import { costTarget, costVerdictText } from './cost-target.ts';
import type { CalibrationResult, MatrixSize } from './matrix-plan.ts';
import { type Matrix, type MatrixRow, PAPER } from './matrix-report.ts';

/** matrix.md, pure: the matrix's views as markdown tables, each beside the paper's number where it gives one. */
export interface MatrixMeta {
  mode: 'quick' | 'full';
  startedAt: string;
  finishedAt: string;
  size: MatrixSize;
  /** `uptime`'s 1/5/15-minute load averages before the first run and after the last. */
  loadAverage: { before: number[]; after: number[] };
  machine: { cores: number; node: string };
  calibration: CalibrationResult;
  /** What --quick left out, in words (empty for the full matrix). */
  reduced: string;
}

const f = (n: number | null | undefined, digits: number) =>
  n === null || n === undefined ? '–' : n.toFixed(digits);

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The main table's columns (the matrix test parses matrix.md back through these). */
export const MATRIX_COLUMNS = [
  'Run',
  'Time (s)',
  'Msg/s',
  'Mean brokers',
  'Max brokers',
  'Mean orchestrators',
  'Cost (replica·s)',
  'Msg/s per replica',
  'Time reduction (%)',
  'Cost ÷ s1',
  'Parallel efficiency',
  'Sent',
  'Lost',
  'Duplicates',
] as const;

function mainRow(r: MatrixRow): string[] {
  return [
    r.ok ? r.key : `${r.key} (**${r.error ?? 'failed'}**)`,
    f(r.applicationSeconds, 2),
    f(r.messagesPerSecond, 1),
    f(r.meanBrokers, 2),
    r.maxBrokers === null ? '–' : String(r.maxBrokers),
    f(r.meanOrchestrators, 2),
    f(r.cost, 1),
    f(r.messagesPerSecondPerReplica, 1),
    f(r.timeReductionPercent, 1),
    f(r.costRatio, 2),
    f(r.parallelEfficiency, 2),
    String(r.sent),
    String(r.lost),
    String(r.duplicates),
  ];
}

function paperSummary(m: Matrix): string {
  const rows: string[][] = [];
  for (const g of m.groups) {
    rows.push([
      `${g.group}: best time reduction vs ${g.baseline ?? 's1'}`,
      g.best ? `${f(g.best.timeReductionPercent, 1)} % (${g.best.key})` : '–',
      g.paperBestTimeReductionPercent === null ? '–' : `${g.paperBestTimeReductionPercent} %`,
    ]);
    rows.push([
      `${g.group}: msg/s, s1 → best`,
      `${f(g.baselineMessagesPerSecond, 1)} → ${f(g.best?.messagesPerSecond, 1)}`,
      g.paperMessagesPerSecond ? `${g.paperMessagesPerSecond.s1} → ${g.paperMessagesPerSecond.best}` : '–',
    ]);
    for (const c of g.costOrder)
      rows.push([
        `${g.group} max ${c.maxReplicas}: thresholds by cost, cheapest first`,
        `${c.cheapestFirst.join(' < ')} (${c.agreesWithPaper === null ? 'one threshold pair only' : c.agreesWithPaper ? 'agrees' : '**differs**'})`,
        `${PAPER.costOrder.cheapest} cheapest, ${PAPER.costOrder.dearest} dearest`,
      ]);
    const elastic = m.rows.filter((r) => r.group === g.group && r.meanBrokers !== null);
    const byCost = [...elastic].sort((a, b) => (a.cost ?? 0) - (b.cost ?? 0));
    const cheap = byCost[0];
    const dear = byCost.at(-1);
    if (cheap && dear)
      rows.push([
        `${g.group}: mean brokers, cheapest / dearest run`,
        `${f(cheap.meanBrokers, 2)} (${cheap.key}) / ${f(dear.meanBrokers, 2)} (${dear.key})`,
        `${PAPER.meanVms.cheapest} / ${PAPER.meanVms.dearest} mean VMs`,
      ]);
    // Issue #14's cost target, like for like: this group's 50-90 runs against the paper's 50/90.
    for (const r of elastic) {
      if (r.thresholds !== PAPER.costOrder.cheapest || r.meanBrokers === null) continue;
      rows.push([
        `${g.group} max ${r.maxReplicas} ${r.thresholds}: issue #14 cost target (mean brokers below the paper's best, every fix delivered)`,
        costVerdictText(costTarget({ meanBrokers: r.meanBrokers, complete: r.complete, lost: r.lost })),
        `< ${PAPER.meanVms.cheapest} mean VMs (50/90)`,
      ]);
    }
  }
  rows.push([
    'QoS 1 messages lost, all runs',
    `${m.totals.lost} of ${m.totals.sent} (${m.totals.duplicates} duplicates)`,
    '0 (target)',
  ]);
  return table(['View', 'Here', 'Paper'], rows);
}

function countColumns(rows: ReadonlyArray<Record<string, number>>): string[] {
  const counts = new Set<number>();
  for (const r of rows) for (const k of Object.keys(r)) counts.add(Number(k));
  return [...counts].sort((a, b) => a - b).map(String);
}

export function renderMatrixMarkdown(m: Matrix, meta: MatrixMeta): string {
  const s = meta.size;
  const la = (v: number[]) => v.map((x) => x.toFixed(2)).join(' / ');
  const s1Load = (kind: string) => {
    const r = m.rows.find((x) => x.group === 's1' && x.kind === kind);
    const pct = (v: number | null | undefined) =>
      v === null || v === undefined ? '–' : `${(v * 100).toFixed(0)} %`;
    return r ? `${pct(r.meanLoad.broker)} / ${pct(r.meanLoad.orchestrator)}` : '–';
  };
  const cal = meta.calibration.kinds.map((k) => [
    k.kind,
    k.tried
      .map(
        (t) =>
          `${t.cpuQuota} core: ${t.bootMs === null ? 'not measured' : `${(t.bootMs / 1000).toFixed(1)} s`} (${t.note})`,
      )
      .join('; '),
    `${k.cpuQuota} core`,
    `${(k.bootTimeoutMs / 1000).toFixed(0)} s`,
    s1Load(k.kind),
  ]);
  const elastic = m.rows.filter((r) => r.group !== 's1');
  const counts = countColumns(m.rows.map((r) => r.brokerSecondsAt));
  const s3 = m.s3;
  const s3Counts = s3 ? countColumns([s3.brokerSecondsAt, s3.orchestratorSecondsAt]) : [];
  const pct = (n: number, total: number) =>
    total > 0 ? `${n} (${((n / total) * 100).toFixed(0)} %)` : String(n);
  return `# The paper's evaluation matrix (${meta.mode})

${m.totals.runs} runs (${m.totals.failed} failed), ${meta.startedAt} → ${meta.finishedAt}, ${meta.machine.cores} cores,
Node ${meta.machine.node}; load average (1/5/15 min) ${la(meta.loadAverage.before)} before, ${la(meta.loadAverage.after)} after.
Load: ${s.records} fixes${s.rabbitmqRecords !== undefined && s.rabbitmqRecords !== s.records ? ` (${s.rabbitmqRecords} for s1-rabbitmq and s2-rabbitmq)` : ''}, ${s.publishers} publishers / ${s.subscribers} subscribers per s1/s2 run; s3 ${s.s3Records} fixes,
${s.s3Publishers}/${s.s3Subscribers}; trace ${s.file ?? 'synthetic (seed 1)'}; QoS 1; monitoring every ${s.intervalSeconds} s.
${meta.reduced ? `\n**Reduced:** ${meta.reduced}\n` : ''}
## Calibration (per broker kind)

${meta.calibration.rule}

${table(['Kind', 'Tried (boot to ready)', 'Quota chosen', 'Boot budget', 's1 load: broker / orchestrator'], cal)}

The last column checks the choice: in s1 the broker should be the bottleneck (mean raw load near 100 % of
its quota; the orchestrator's is a fraction of one core).

## Against the paper

${paperSummary(m)}

## Every run: time (Fig. 7), reduction vs s1 (Fig. 8), msg/s (Fig. 11), cost and efficiency (Tables 3/4, Fig. 12)

${table(MATRIX_COLUMNS, m.rows.map(mainRow))}

Time: first publish to last delivery. Reduction, cost ÷ s1 and parallel efficiency are against the run's own
kind's s1 (the mixed pool starts with a Mosquitto broker: s1-mosquitto), same load; s3 replays another load.
Cost = time × mean replicas of both levels (replica-seconds), as in the paper.

## Resource-time per broker count (Table 2), seconds

${table(
  ['Run', ...counts.map((c) => `${c} broker${c === '1' ? '' : 's'}`)],
  m.rows.map((r) => [r.key, ...counts.map((c) => f(r.brokerSecondsAt[c] ?? 0, 1))]),
)}

## Load status per observation (Fig. 10): broker level's smoothed load against the thresholds

${table(
  ['Run', 'Above', 'Within', 'Below', 'Adds', 'Removes'],
  elastic.map((r) => {
    const n = r.loadStatus.above + r.loadStatus.within + r.loadStatus.below;
    return [
      r.key,
      pct(r.loadStatus.above, n),
      pct(r.loadStatus.within, n),
      pct(r.loadStatus.below, n),
      String(r.addActions),
      String(r.removeActions),
    ];
  }),
)}

## s3: replica profile (Table 5, Figs. 14/15)

${
  s3
    ? `Mean ${f(s3.meanBrokers, 2)} brokers (max ${s3.maxBrokers}) and ${f(s3.meanOrchestrators, 2)} orchestrators (max ${s3.maxOrchestrators}).

${table(
  ['Level', ...s3Counts.map((c) => `${c}`)],
  [
    ['brokers (s at n)', ...s3Counts.map((c) => f(s3.brokerSecondsAt[c] ?? 0, 1))],
    ['orchestrators (s at n)', ...s3Counts.map((c) => f(s3.orchestratorSecondsAt[c] ?? 0, 1))],
  ],
)}

Actions: ${s3.actions.map((a) => `${a.level} ${a.action} at ${a.t.toFixed(1)} s (${a.outcome})`).join('; ') || 'none'}.
Per-level load against thresholds: [${s3.key}/load-broker.svg](${s3.key}/load-broker.svg), [${s3.key}/load-orchestrator.svg](${s3.key}/load-orchestrator.svg), [${s3.key}/replicas.svg](${s3.key}/replicas.svg).`
    : 'No s3 report.'
}

## Figures

[time.svg](time.svg) (Fig. 7), [reduction.svg](reduction.svg) (Fig. 8), [load-status.svg](load-status.svg) (Fig. 10),
[throughput.svg](throughput.svg) (Fig. 11), [cost.svg](cost.svg) (Fig. 12); each run's folder holds its report.md,
replicas.svg and load SVGs.
`;
}
