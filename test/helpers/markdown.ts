/** Rows of the first markdown table after `heading`, as objects keyed by the header cells. */
export function mdTable(md: string, heading: string): Array<Record<string, string>> {
  const lines = md.slice(md.indexOf(heading)).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const cells = (l: string) =>
    l
      .slice(1, -1)
      .split('|')
      .map((c) => c.trim());
  const header = cells(lines[start] ?? '');
  const rows: Array<Record<string, string>> = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith('|')) break;
    rows.push(Object.fromEntries(cells(l).map((c, i) => [header[i] ?? String(i), c])));
  }
  return rows;
}
