// Small SVG charts for the dashboard: no library, no build step.
const NS = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes. */
export function svgEl(name, attrs = {}, text) {
  const el = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

const W = 640;
const PAD = { left: 40, right: 10, top: 10, bottom: 22 };

function path(points, x, y, step) {
  let d = '';
  let last;
  for (const [px, py] of points) {
    if (py === null || py === undefined) {
      last = undefined;
      continue;
    }
    if (last === undefined) d += `M${x(px).toFixed(1)},${y(py).toFixed(1)}`;
    else if (step) d += `H${x(px).toFixed(1)}V${y(py).toFixed(1)}`;
    else d += `L${x(px).toFixed(1)},${y(py).toFixed(1)}`;
    last = py;
  }
  return d;
}

/**
 * Draws a time chart into `svg`: x is the observation number, series are [x, y] lists, `band` shades
 * [lower, upper], `marks` are vertical decision markers ({x, kind: 'add'|'remove', title}).
 */
export function drawChart(svg, { height, xs, yMax, yTicks, yFormat, series, band, marks = [] }) {
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${W} ${height}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  const [x0, x1] = xs.length > 1 ? [xs[0], xs[xs.length - 1]] : [(xs[0] ?? 0) - 1, (xs[0] ?? 0) + 1];
  const x = (v) => PAD.left + ((v - x0) / (x1 - x0 || 1)) * (W - PAD.left - PAD.right);
  const y = (v) => height - PAD.bottom - (Math.min(v, yMax) / yMax) * (height - PAD.top - PAD.bottom);
  for (const t of yTicks) {
    svg.append(svgEl('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(t), y2: y(t) }));
    svg.append(
      svgEl('text', { class: 'tick', x: PAD.left - 4, y: y(t) + 3, 'text-anchor': 'end' }, yFormat(t)),
    );
  }
  if (band) {
    const [lo, hi] = band;
    svg.append(
      svgEl('rect', {
        class: 'band',
        x: PAD.left,
        width: W - PAD.left - PAD.right,
        y: y(hi),
        height: y(lo) - y(hi),
      }),
    );
    for (const [v, name] of [
      [lo, 'lower'],
      [hi, 'upper'],
    ]) {
      svg.append(
        svgEl('line', { class: `threshold ${name}`, x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }),
      );
      svg.append(
        svgEl('text', { class: 'tick', x: W - PAD.right - 2, y: y(v) - 3, 'text-anchor': 'end' }, name),
      );
    }
  }
  for (const m of marks) {
    if (m.x < x0 || m.x > x1) continue;
    const g = svgEl('g', { class: `mark ${m.kind}` });
    g.append(svgEl('line', { x1: x(m.x), x2: x(m.x), y1: PAD.top, y2: height - PAD.bottom }));
    const tip = y(yMax) + 2;
    const points =
      m.kind === 'add'
        ? `${x(m.x) - 5},${tip + 8} ${x(m.x) + 5},${tip + 8} ${x(m.x)},${tip}`
        : `${x(m.x) - 5},${tip} ${x(m.x) + 5},${tip} ${x(m.x)},${tip + 8}`;
    g.append(svgEl('polygon', { points }));
    g.append(svgEl('title', {}, m.title));
    svg.append(g);
  }
  for (const s of series)
    svg.append(svgEl('path', { class: `series ${s.cls}`, d: path(s.points, x, y, s.step) }));
  svg.append(svgEl('text', { class: 'tick', x: PAD.left, y: height - 6 }, `#${x0}`));
  svg.append(
    svgEl('text', { class: 'tick', x: W - PAD.right, y: height - 6, 'text-anchor': 'end' }, `#${x1}`),
  );
}
