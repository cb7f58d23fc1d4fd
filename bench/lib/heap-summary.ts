// A V8 heap snapshot (`node --heapsnapshot-signal=SIGUSR2`, or DevTools) summed up by constructor: the
// live JS heap's bytes and object counts per group, and the difference between two snapshots divided
// by a count (what each of N clients costs). Pure but for reading the files. From the shell:
//   node --import tsx bench/lib/heap-summary.ts BEFORE.heapsnapshot AFTER.heapsnapshot N [rows]
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapGroup {
  group: string;
  bytes: number;
  count: number;
}

/**
 * What a node counts under: an object's constructor; a closure's function name; strings, code,
 * numbers as one group each; V8's internal arrays and hidden objects by their (short) name.
 */
function groupOf(type: string, name: string): string {
  if (type === 'object') return name;
  if (type === 'closure') return `(closure) ${name || '(anonymous)'}`;
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return '(string)';
  if (type === 'array' || type === 'hidden' || type === 'native' || type === 'object shape')
    return `(${type}) ${name.length <= 40 ? name : `${name.slice(0, 37)}...`}`;
  return `(${type})`;
}

/** Self bytes and counts per group, largest first. */
export function summarize(json: string): { total: number; groups: HeapGroup[] } {
  const snap = JSON.parse(json) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const byGroup = new Map<string, HeapGroup>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt] ?? 0] ?? '?';
    const name = snap.strings[snap.nodes[i + nameAt] ?? 0] ?? '';
    const bytes = snap.nodes[i + sizeAt] ?? 0;
    const group = groupOf(type, name);
    let g = byGroup.get(group);
    if (!g) {
      g = { group, bytes: 0, count: 0 };
      byGroup.set(group, g);
    }
    g.bytes += bytes;
    g.count += 1;
    total += bytes;
  }
  return { total, groups: [...byGroup.values()].sort((a, b) => b.bytes - a.bytes) };
}

/** after − before per group, divided by `per` (bytes and counts per client), largest first. */
export function difference(
  before: { total: number; groups: HeapGroup[] },
  after: { total: number; groups: HeapGroup[] },
  per: number,
): { total: number; groups: HeapGroup[] } {
  const base = new Map(before.groups.map((g) => [g.group, g]));
  const groups = after.groups.map((g) => ({
    group: g.group,
    bytes: (g.bytes - (base.get(g.group)?.bytes ?? 0)) / per,
    count: (g.count - (base.get(g.group)?.count ?? 0)) / per,
  }));
  return { total: (after.total - before.total) / per, groups: groups.sort((a, b) => b.bytes - a.bytes) };
}

/** The rows as a table: bytes and count per group. */
export function heapTable(summary: { total: number; groups: HeapGroup[] }, rows: number): string {
  const lines = [`  total ${summary.total.toFixed(0)} bytes`];
  for (const g of summary.groups.slice(0, rows))
    lines.push(`  ${g.bytes.toFixed(0).padStart(10)} B ${g.count.toFixed(2).padStart(10)}  ${g.group}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [a, b, per, rows] = process.argv.slice(2);
  if (!a) throw new Error('usage: heap-summary.ts SNAPSHOT [AFTER PER] [ROWS]');
  const first = summarize(readFileSync(a, 'utf8'));
  if (!b) console.log(heapTable(first, Number(per ?? 30)));
  else
    console.log(
      heapTable(difference(first, summarize(readFileSync(b, 'utf8')), Number(per ?? 1)), Number(rows ?? 30)),
    );
}
