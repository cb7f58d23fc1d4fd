// The Brokel dashboard: one snapshot per server-sent event, rendered with plain DOM and SVG.
import { drawChart } from './charts.js';

const NAMES = { broker: 'Brokers', orchestrator: 'Orchestrators' };
const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
}

const pct = (v) => (v === undefined || v === null ? '–' : `${(100 * v).toFixed(1)}%`);
const rate = (v) =>
  v === undefined || v === null ? '–' : v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0);

function badge(state) {
  return el('span', { class: `badge ${state}` }, state);
}

function bar(value) {
  const outer = el('span', { class: 'bar' });
  const inner = el('span', { class: 'fill' });
  inner.style.width = `${Math.max(0, Math.min(100, 100 * (value ?? 0))).toFixed(0)}%`;
  outer.append(inner);
  return el('span', { class: 'bar-cell' }, outer, el('span', { class: 'num' }, pct(value)));
}

function levelSkeleton(section, level) {
  section.replaceChildren(
    el(
      'h2',
      {},
      `${NAMES[level]} `,
      el('span', { class: 'load' }),
      ' ',
      el('span', { class: 'muted summary' }),
    ),
    el(
      'div',
      { class: 'legend' },
      el('span', { class: 'key smoothed' }, 'smoothed load'),
      el('span', { class: 'key raw' }, 'raw load'),
      el('span', { class: 'key band' }, 'lower–upper'),
      el('span', { class: 'key add' }, '▲ add'),
      el('span', { class: 'key remove' }, '▼ remove'),
    ),
    svgBox('chart-load', 'level load over time'),
    svgBox('chart-replicas', 'replicas over time'),
    el(
      'table',
      { class: 'replicas' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', {}, 'replica'),
          el('th', {}, 'template'),
          el('th', {}, 'state'),
          el('th', {}, 'raw cpu'),
          el('th', {}, 'smoothed'),
          el('th', {}, 'address'),
        ),
      ),
      el('tbody'),
    ),
  );
}

function svgBox(cls, label) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', `chart ${cls}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  return svg;
}

function renderLevel(snapshot, level) {
  const section = $(`#level-${level.level}`);
  if (!section.firstChild) levelSkeleton(section, level.level);
  const live = level.replicas.filter((r) => r.state !== 'failed').length;
  $('.load', section).textContent = `load ${pct(level.load)}`;
  $('.load', section).className =
    `load ${level.load > level.upper ? 'high' : level.load < level.lower ? 'low' : ''}`;
  const manual = level.manualTarget === undefined ? '' : ` · manual target ${level.manualTarget}`;
  $('.summary', section).textContent =
    `thresholds ${level.lower}–${level.upper} · ${live} replica${live === 1 ? '' : 's'} (min ${level.min}, max ${level.max})${manual}` +
    (level.actionInFlight ? ` · in flight: ${level.actionInFlight}` : '');
  const history = level.history;
  const xs = history.map((p) => p.observation);
  const maxLoad = Math.max(1, ...history.map((p) => Math.max(p.load ?? 0, p.raw ?? 0)));
  drawChart($('.chart-load', section), {
    height: 190,
    xs,
    yMax: maxLoad,
    yTicks: [0, 0.25, 0.5, 0.75, 1].filter((t) => t <= maxLoad),
    yFormat: (t) => `${Math.round(t * 100)}%`,
    band: [level.lower, level.upper],
    series: [
      { cls: 'raw', points: history.map((p) => [p.observation, p.raw]) },
      { cls: 'smoothed', points: history.map((p) => [p.observation, p.load]) },
    ],
    marks: snapshot.decisions
      .filter((d) => d.level === level.level)
      .map((d) => ({
        x: d.observation,
        kind: d.action,
        title: `#${d.observation} ${d.action}: ${d.reason}`,
      })),
  });
  // Room above the most replicas seen, not up to max (a max of 10 would flatten one or two replicas).
  const top = Math.max(level.min + 1, ...history.map((p) => p.replicas)) + 1;
  const step = Math.ceil(top / 4);
  drawChart($('.chart-replicas', section), {
    height: 90,
    xs,
    yMax: top,
    yTicks: Array.from({ length: Math.floor(top / step) + 1 }, (_, i) => i * step),
    yFormat: (t) => String(t),
    series: [{ cls: 'replicas', step: true, points: history.map((p) => [p.observation, p.replicas]) }],
  });
  $('tbody', section).replaceChildren(
    ...level.replicas.map((r) => {
      const state = r.poolState && r.poolState !== 'active' ? r.poolState : r.state;
      return el(
        'tr',
        { 'data-replica': r.id, 'data-state': state },
        el('td', { class: 'id' }, r.id),
        el('td', {}, r.template),
        el('td', {}, badge(state)),
        el('td', {}, bar(r.cpu)),
        el('td', {}, bar(r.smoothed)),
        el('td', { class: 'muted mono', title: r.url }, r.url.replace(/^[a-z]+:\/\//, '')),
      );
    }),
  );
}

function renderTables(snapshot) {
  $('#orchestrators tbody').replaceChildren(
    ...snapshot.orchestrators.map((o) =>
      el(
        'tr',
        { 'data-orchestrator': o.id },
        el('td', { class: 'id' }, o.id),
        el('td', {}, badge(o.draining ? 'draining' : o.answered ? o.state : 'silent')),
        el('td', { class: 'num' }, o.sessions),
        el('td', { class: 'num' }, rate(o.inPerSecond)),
        el('td', { class: 'num' }, rate(o.outPerSecond)),
        el('td', { class: 'num' }, pct(o.cpu)),
      ),
    ),
  );
  $('#brokers tbody').replaceChildren(
    ...snapshot.brokers.map((b) =>
      el(
        'tr',
        { 'data-broker': b.id ?? b.url },
        el('td', { class: 'id' }, b.id ?? b.url),
        el('td', {}, badge(b.state)),
        el('td', { class: 'num' }, b.sessions),
        el('td', { class: 'num' }, rate(b.inPerSecond)),
        el('td', { class: 'num' }, rate(b.outPerSecond)),
        el('td', { class: 'num' }, b.inflight),
      ),
    ),
  );
  const dns = $('#dns .body');
  if (!snapshot.dns) dns.replaceChildren(el('p', { class: 'muted' }, 'no geo-dns in this process'));
  else if (snapshot.dns.length === 0)
    dns.replaceChildren(el('p', { class: 'muted' }, 'no orchestrator registered'));
  else
    dns.replaceChildren(
      ...snapshot.dns.map((region) =>
        el(
          'div',
          { class: 'region' },
          el('strong', {}, region.region),
          ...region.records.map((r, i) =>
            el(
              'span',
              { class: `answer ${i === 0 ? 'first' : ''}` },
              `${r.id} (${r.state}, load ${pct(r.load)})`,
            ),
          ),
        ),
      ),
    );
  renderAnswers(snapshot.dnsAnswers);
  $('#decisions ol').replaceChildren(
    ...[...snapshot.decisions]
      .reverse()
      .slice(0, 12)
      .map((d) =>
        el(
          'li',
          {},
          el('span', { class: `badge ${d.action}` }, d.action),
          ` #${d.observation} ${d.level}: ${d.reason} `,
          el('span', { class: 'muted' }, new Date(d.time).toLocaleTimeString()),
        ),
      ),
  );
  if (snapshot.decisions.length === 0)
    $('#decisions ol').replaceChildren(el('li', { class: 'muted' }, 'no add or remove yet'));
}

/** geo-dns answers per client region: to which orchestrator, how many so far and per second now. */
function renderAnswers(answers) {
  const body = $('#dns .answers');
  if (!answers) body.replaceChildren();
  else if (answers.length === 0) body.replaceChildren(el('p', { class: 'muted' }, 'no answer given yet'));
  else
    body.replaceChildren(
      el(
        'table',
        {},
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', {}, 'client region'),
            el('th', {}, 'answered with'),
            el('th', { class: 'num' }, 'answers'),
            el('th', { class: 'num' }, 'per s'),
          ),
        ),
        el(
          'tbody',
          {},
          ...answers.map((r) =>
            el(
              'tr',
              { 'data-client-region': r.clientRegion },
              el('td', { class: 'id' }, r.clientRegion),
              el('td', {}, r.orchestrators.map((o) => `${o.id} ×${o.answers}`).join(', ')),
              el('td', { class: 'num' }, r.total),
              el('td', { class: 'num' }, rate(r.perSecond)),
            ),
          ),
        ),
      ),
    );
}

function render(snapshot) {
  $('#deployment').textContent = `deployment ${snapshot.deployment} · policy ${snapshot.policy}`;
  $('#observation').textContent =
    `observation #${snapshot.observation} · every ${snapshot.intervalSeconds} s · ${new Date(snapshot.time).toLocaleTimeString()}`;
  document.body.dataset.observation = String(snapshot.observation);
  for (const level of snapshot.levels) renderLevel(snapshot, level);
  renderTables(snapshot);
  const progress = $('#progress');
  progress.hidden = snapshot.inProgress.length === 0;
  progress.textContent = snapshot.inProgress.length ? `In progress: ${snapshot.inProgress.join(' · ')}` : '';
}

function connect() {
  const live = $('#live');
  const events = new EventSource('/api/events');
  events.addEventListener('snapshot', (e) => {
    live.textContent = 'live';
    live.className = 'live on';
    render(JSON.parse(e.data));
  });
  events.onerror = () => {
    live.textContent = 'reconnecting…';
    live.className = 'live off';
  };
}

connect();
