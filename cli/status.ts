import { setTimeout as sleep } from 'node:timers/promises';
import { outputClosed } from '../common/closed-output.ts';
import { loadConfig } from '../common/config/load.ts';
import { adminToken, authorization } from './admin-token.ts';

interface StatusReplica {
  id: string;
  template: string;
  url: string;
  state: string;
  poolState?: string;
  cpu?: number;
  smoothed?: number;
  sessions?: number;
}

interface StatusBody {
  deployment: string;
  configError: string | null;
  /** Config paths changed in the file that wait for a restart. */
  restartRequired?: string[];
  thresholds: Record<string, { lower: number; upper: number; min: number; max: number }>;
  levels: Array<{
    level: string;
    load?: number;
    rawLoad?: number;
    actionInFlight?: string;
    manualTarget?: number;
    replicas: StatusReplica[];
  }>;
  decisions: Array<{ observation: number; level: string; action: string; reason: string; time: string }>;
  rebalance?: {
    kind: string;
    reason: string;
    state: string;
    outcome?: string;
    rounds: number;
    moved: number;
    plan: Array<{ from: string; to: string; count: number }>;
  } | null;
}

const pct = (x: number | undefined) => (x === undefined ? '   -  ' : `${(100 * x).toFixed(1).padStart(5)}%`);

async function fetchStatus(url: string, headers: Record<string, string>): Promise<StatusBody> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  if (response.status === 401) throw new Error('HTTP 401: set BROKEL_ADMIN_TOKEN to the admin token');
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return (await response.json()) as StatusBody;
}

const unreachable = (url: string, err: unknown) =>
  `brokel status: no manager answers at ${url} (${(err as Error).message}); is \`brokel up\` running?`;

/** The text `brokel status` prints for one answer of the manager. */
export function renderStatus(body: StatusBody): string[] {
  const lines = [
    `deployment ${body.deployment}${body.configError ? `  (config rejected: ${body.configError})` : ''}`,
  ];
  if (body.restartRequired && body.restartRequired.length > 0)
    lines.push(`config changes waiting for a restart: ${body.restartRequired.join(', ')}`);
  for (const level of body.levels) {
    const t = body.thresholds[level.level === 'broker' ? 'brokers' : 'orchestrators'];
    const manual = level.manualTarget === undefined ? '' : `, manual target ${level.manualTarget}`;
    lines.push(
      `\n${level.level} level: load ${pct(level.load)} (raw ${pct(level.rawLoad)}), thresholds ${t?.lower}–${t?.upper}, ` +
        `min ${t?.min} max ${t?.max}${manual}${level.actionInFlight ? `, in flight: ${level.actionInFlight}` : ''}`,
    );
    for (const r of level.replicas) {
      lines.push(
        `  ${r.id.padEnd(14)} ${r.template.padEnd(12)} ${(r.poolState ?? r.state).padEnd(9)} cpu ${pct(r.cpu)} smoothed ${pct(r.smoothed)}  ${r.url}${r.sessions === undefined ? '' : `  ${r.sessions} sessions`}`,
      );
    }
  }
  const rb = body.rebalance;
  if (rb) {
    const moves = rb.plan.map((m) => `${m.from}→${m.to} ${m.count}`).join(', ');
    lines.push(
      `\n${rb.kind} ${rb.state} (${rb.reason}): ${rb.moved} moved in ${rb.rounds} rounds${rb.outcome ? `, ${rb.outcome}` : ''}${moves ? `; plan ${moves}` : ''}`,
    );
  }
  lines.push('\nlast decisions:');
  for (const d of body.decisions.slice(-10))
    lines.push(`  #${d.observation} ${d.level.padEnd(12)} ${d.action.padEnd(6)} ${d.reason}`);
  return lines;
}

/**
 * `brokel status [--json] [--watch] [-c FILE]`: asks the running manager's API and prints it; with
 * --watch, again every `everySeconds` until interrupted (a manager that does not answer is said so,
 * and asked again).
 */
export async function runStatus(options: {
  json: boolean;
  file: string | undefined;
  watch?: boolean;
  everySeconds?: number;
  envToken?: string | undefined;
}): Promise<number> {
  const config = await loadConfig(options.file);
  const url = `http://${config.api.listen}/api/status`;
  // Reads need the token when the manager says so (api.readAccess); sending it costs nothing otherwise.
  const headers = authorization(await adminToken(config, options.envToken));
  if (!options.watch) {
    let body: StatusBody;
    try {
      body = await fetchStatus(url, headers);
    } catch (err) {
      console.error(unreachable(url, err));
      return 1;
    }
    console.log(options.json ? JSON.stringify(body, null, 2) : renderStatus(body).join('\n'));
    return 0;
  }
  const clear = process.stdout.isTTY ? '\x1b[2J\x1b[H' : '';
  // Until interrupted, or until the reader of its output leaves (`brokel status --watch | head`).
  while (!outputClosed()) {
    const text = await fetchStatus(url, headers).then(
      (body) => (options.json ? JSON.stringify(body) : renderStatus(body).join('\n')),
      (err: unknown) => unreachable(url, err),
    );
    process.stdout.write(`${clear}${new Date().toLocaleTimeString()}  (Ctrl-C stops)\n${text}\n`);
    await sleep((options.everySeconds ?? 2) * 1000);
  }
  return 0;
}
