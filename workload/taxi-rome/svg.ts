/**
 * Hand-written SVG line charts, pure: a title, axes with ticks, one polyline per series (straight or
 * stepped, solid or dashed), vertical markers, a legend. Enough for the scenario report's figures.
 */
export interface Series {
  label: string;
  points: ReadonlyArray<readonly [number, number]>;
  color: string;
  /** Draw as a step function (a value holds until the next point). */
  step?: boolean;
  dash?: string;
  /** Draw a dot at each point. */
  dots?: boolean;
}

export interface Marker {
  x: number;
  label: string;
  color: string;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  markers?: readonly Marker[];
  width?: number;
  height?: number;
  yMin?: number;
  yMax?: number;
  xMin?: number;
  xMax?: number;
  /** Integer ticks on the y axis (replica counts). */
  integerY?: boolean;
}

export function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c,
  );
}

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5, integer = false): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const size = integer ? Math.max(1, Math.round(step)) : step;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / size) * size; v <= max + size * 1e-9; v += size)
    ticks.push(Number(v.toFixed(10)));
  return ticks;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(Math.abs(n) < 1 ? 2 : 1);
}

export function lineChart(o: ChartOptions): string {
  const width = o.width ?? 760;
  const height = o.height ?? 360;
  const pad = { left: 60, right: 20, top: 40, bottom: 70 };
  const all = o.series.flatMap((s) => s.points);
  const xs = [...all.map((p) => p[0]), ...(o.markers ?? []).map((m) => m.x)];
  const ys = all.map((p) => p[1]);
  const xMin = o.xMin ?? (xs.length ? Math.min(...xs) : 0);
  const xMax = o.xMax ?? (xs.length ? Math.max(...xs) : 1);
  const yMin = o.yMin ?? (ys.length ? Math.min(0, ...ys) : 0);
  const yMax = o.yMax ?? (ys.length ? Math.max(...ys) * 1.1 || 1 : 1);
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const sx = (x: number) => pad.left + (xMax > xMin ? ((x - xMin) / (xMax - xMin)) * plotW : 0);
  const sy = (y: number) => pad.top + plotH - (yMax > yMin ? ((y - yMin) / (yMax - yMin)) * plotH : 0);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(o.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(o.title)}</text>`,
  ];
  for (const v of niceTicks(yMin, yMax, 5, o.integerY)) {
    const y = sy(v).toFixed(1);
    out.push(`<line x1="${pad.left}" x2="${width - pad.right}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(
      `<text x="${pad.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(v)}</text>`,
    );
  }
  for (const v of niceTicks(xMin, xMax, 8)) {
    const x = sx(v).toFixed(1);
    out.push(
      `<line x1="${x}" x2="${x}" y1="${pad.top + plotH}" y2="${pad.top + plotH + 4}" stroke="black"/>`,
    );
    out.push(`<text x="${x}" y="${pad.top + plotH + 16}" text-anchor="middle">${fmt(v)}</text>`);
  }
  out.push(
    `<rect x="${pad.left}" y="${pad.top}" width="${plotW}" height="${plotH}" fill="none" stroke="black"/>`,
    `<text x="${pad.left + plotW / 2}" y="${pad.top + plotH + 34}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`,
    `<text transform="translate(16 ${pad.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`,
  );
  for (const m of o.markers ?? []) {
    const x = sx(m.x).toFixed(1);
    out.push(
      `<line x1="${x}" x2="${x}" y1="${pad.top}" y2="${pad.top + plotH}" stroke="${m.color}" stroke-dasharray="2 3"/>`,
      `<text x="${x}" y="${pad.top - 4}" text-anchor="middle" font-size="10" fill="${m.color}">${escapeXml(m.label)}</text>`,
    );
  }
  for (const s of o.series) {
    if (s.points.length === 0) continue;
    const coords: string[] = [];
    s.points.forEach(([x, y], i) => {
      const prev = s.points[i - 1];
      if (s.step && prev) coords.push(`${sx(x).toFixed(1)},${sy(prev[1]).toFixed(1)}`);
      coords.push(`${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
    });
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${coords.join(' ')}"/>`,
    );
    if (s.dots)
      for (const [x, y] of s.points)
        out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
  }
  o.series.forEach((s, i) => {
    const x = pad.left + (i % 4) * (plotW / 4);
    const y = height - 18 + (i >= 4 ? 14 : 0) - (o.series.length > 4 ? 14 : 0);
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    out.push(
      `<line x1="${x}" x2="${x + 22}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2"${dash}/>`,
      `<text x="${x + 28}" y="${y}" dominant-baseline="middle">${escapeXml(s.label)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
