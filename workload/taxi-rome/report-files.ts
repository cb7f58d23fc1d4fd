import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { placementSvg } from './placement.ts';
import {
  type Baseline,
  baselineOf,
  loadSvg,
  renderMarkdown,
  replicasSvg,
  type ScenarioReport,
} from './report.ts';

/**
 * Writes a run's report.json, report.md and figures into `dir`; returns the paths. The baseline
 * report (s1) is re-read for the table when it is the one in the parent folder.
 */
export async function writeScenarioReport(
  dir: string,
  report: ScenarioReport,
  baseline?: Baseline & { report?: ScenarioReport },
): Promise<string[]> {
  const files: Array<[string, string]> = [
    ['report.json', `${JSON.stringify(report, null, 2)}\n`],
    ['report.md', renderMarkdown(report, baseline?.report)],
    ['replicas.svg', replicasSvg(report)],
    ['load-broker.svg', loadSvg(report, 'broker')],
  ];
  if (report.observations.some((o) => o.level === 'orchestrator'))
    files.push(['load-orchestrator.svg', loadSvg(report, 'orchestrator')]);
  if (report.placement)
    files.push([
      'subscribers.svg',
      placementSvg(report.label, report.placement.series, report.applicationSeconds),
    ]);
  const paths: string[] = [];
  for (const [name, text] of files) {
    const path = join(dir, name);
    await writeFile(path, text);
    paths.push(path);
  }
  return paths;
}

/**
 * The s1 report to compare with: `file` when given, else `<parent of dir>/s1/report.json` when it
 * exists. Undefined when there is none (or `dir` is the s1 run itself).
 */
export async function findBaseline(
  dir: string,
  file?: string,
): Promise<(Baseline & { report: ScenarioReport }) | undefined> {
  const path = file ?? join(dirname(dir), 's1', 'report.json');
  if (!file && join(dirname(dir), 's1') === dir) return undefined;
  try {
    const report = JSON.parse(await readFile(path, 'utf8')) as ScenarioReport;
    return { ...baselineOf(report), report };
  } catch (err) {
    if (file) throw new Error(`baseline ${file}: ${(err as Error).message}`);
    return undefined;
  }
}
