import type { Matrix } from './matrix-report.ts';
import { escapeXml, niceTicks } from './svg.ts';

/**
 * The matrix's figures as hand-written SVG bar charts, pure: one bar (or one stack) per run, optional
 * horizontal reference lines for the paper's numbers.
 */
export interface BarSeries {
  label: string;
  color: string;
  values: ReadonlyArray<number | null>;
}

export interface BarChart {
  title: string;
  yLabel: string;
  categories: readonly string[];
  series: readonly BarSeries[];
  /** Stack the series (one bar per category) instead of placing them side by side. */
  stacked?: boolean;
  references?: ReadonlyArray<{ y: number; label: string; color: string }>;
}

export function barChart(o: BarChart): string {
  const pad = { left: 64, right: 20, top: 40, bottom: 210 };
  const width = Math.max(420, pad.left + pad.right + o.categories.length * 26);
  const height = 520;
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const totals = o.categories.map((_, i) =>
    o.stacked
      ? o.series.reduce((a, s) => a + Math.max(0, s.values[i] ?? 0), 0)
      : Math.max(0, ...o.series.map((s) => s.values[i] ?? 0)),
  );
  const lows = o.series.flatMap((s) => s.values.filter((v): v is number => v !== null && v < 0));
  const yMin = Math.min(0, ...lows);
  const yMax = Math.max(1e-9, ...totals, ...(o.references ?? []).map((r) => r.y)) * 1.08;
  const sy = (y: number) => pad.top + plotH - ((y - yMin) / (yMax - yMin)) * plotH;
  const slot = plotW / Math.max(1, o.categories.length);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(o.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(o.title)}</text>`,
  ];
  for (const v of niceTicks(yMin, yMax, 5)) {
    const y = sy(v).toFixed(1);
    out.push(
      `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${pad.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${Number(v.toFixed(6))}</text>`,
    );
  }
  o.categories.forEach((cat, i) => {
    let base = 0;
    const inner = o.stacked ? 1 : o.series.length;
    o.series.forEach((s, k) => {
      const v = s.values[i];
      if (v === null || v === undefined) return;
      const w = (slot * 0.8) / inner;
      const x = pad.left + i * slot + slot * 0.1 + (o.stacked ? 0 : k * w);
      const from = o.stacked ? base : 0;
      const to = from + v;
      if (o.stacked) base = to;
      const top = sy(Math.max(from, to));
      const h = Math.abs(sy(from) - sy(to));
      out.push(
        `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color}"><title>${escapeXml(`${cat} ${s.label}: ${v}`)}</title></rect>`,
      );
    });
    const cx = pad.left + i * slot + slot / 2;
    const ly = pad.top + plotH + 8;
    out.push(
      `<text transform="translate(${cx.toFixed(1)} ${ly}) rotate(60)" text-anchor="start">${escapeXml(cat)}</text>`,
    );
  });
  (o.references ?? []).forEach((r, k) => {
    const y = sy(r.y).toFixed(1);
    // Labels alternate above and below their line, so two close references stay readable.
    const ty = Number(y) + (k % 2 === 0 ? -4 : 12);
    out.push(
      `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y}" y2="${y}" stroke="${r.color}" stroke-dasharray="6 4" stroke-width="1.5"/>`,
      `<text x="${pad.left + 4 + k * 170}" y="${ty}" fill="${r.color}">${escapeXml(r.label)}</text>`,
    );
  });
  out.push(
    `<rect x="${pad.left}" y="${pad.top}" width="${plotW}" height="${plotH}" fill="none" stroke="black"/>`,
    `<line x1="${pad.left}" x2="${width - pad.right}" y1="${sy(0).toFixed(1)}" y2="${sy(0).toFixed(1)}" stroke="black"/>`,
    `<text transform="translate(16 ${pad.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`,
  );
  const perRow = Math.max(1, Math.floor(plotW / 120));
  const rows = Math.ceil(o.series.length / perRow);
  o.series.forEach((s, i) => {
    const x = pad.left + (i % perRow) * 120;
    const y = height - 16 - (rows - 1 - Math.floor(i / perRow)) * 16;
    out.push(
      `<rect x="${x}" y="${y}" width="14" height="10" fill="${s.color}"/>`,
      `<text x="${x + 18}" y="${y + 9}">${escapeXml(s.label)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

const COLOR: Record<string, string> = {
  s1: '#7f7f7f',
  's2-mosquitto': '#1f77b4',
  's2-rabbitmq': '#ff7f0e',
  's2-mixed': '#2ca02c',
  s3: '#d62728',
};

/** One series per group, so each group has its colour; a run's bar sits in its own category. */
function perGroup(m: Matrix, value: (r: Matrix['rows'][number]) => number | null): BarSeries[] {
  const groups = [...new Set(m.rows.map((r) => r.group))];
  return groups.map((g) => ({
    label: g,
    color: COLOR[g] ?? '#555',
    values: m.rows.map((r) => (r.group === g ? value(r) : null)),
  }));
}

export function matrixFigures(m: Matrix): Array<[string, string]> {
  const categories = m.rows.map((r) => r.key);
  const stacked = true; // per-group series never share a category: stacking keeps bars full width
  const refs = (key: 'reduction' | 'throughput') =>
    m.groups.flatMap((g) => {
      const c = COLOR[g.group] ?? '#555';
      if (key === 'reduction' && g.paperBestTimeReductionPercent !== null)
        return [
          {
            y: g.paperBestTimeReductionPercent,
            label: `paper ${g.group} ${g.paperBestTimeReductionPercent} %`,
            color: c,
          },
        ];
      return [];
    });
  const fig = (
    title: string,
    yLabel: string,
    value: (r: Matrix['rows'][number]) => number | null,
    key?: 'reduction',
  ) =>
    barChart({
      title,
      yLabel,
      categories,
      series: perGroup(m, value),
      stacked,
      references: key ? refs(key) : [],
    });
  return [
    ['time.svg', fig('Application time per configuration (Fig. 7)', 'seconds', (r) => r.applicationSeconds)],
    [
      'reduction.svg',
      fig(
        'Time reduction against the kind’s s1 (Fig. 8)',
        '% less time',
        (r) => r.timeReductionPercent,
        'reduction',
      ),
    ],
    ['throughput.svg', fig('Messages per second (Fig. 11)', 'msg/s', (r) => r.messagesPerSecond)],
    ['cost.svg', fig('Cost: time × mean replicas (Fig. 12)', 'replica·s', (r) => r.cost)],
    [
      'load-status.svg',
      barChart({
        title: 'Broker load per observation against the thresholds (Fig. 10)',
        yLabel: 'observations',
        categories: m.rows.filter((r) => r.group !== 's1').map((r) => r.key),
        stacked: true,
        series: (['above', 'within', 'below'] as const).map((k, i) => ({
          label: k,
          color: ['#d62728', '#2ca02c', '#1f77b4'][i] as string,
          values: m.rows.filter((r) => r.group !== 's1').map((r) => r.loadStatus[k]),
        })),
      }),
    ],
  ];
}
