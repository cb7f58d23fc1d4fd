import { loadConfig } from '../common/config/load.ts';

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
  thresholds: Record<string, { lower: number; upper: number; min: number; max: number }>;
  levels: Array<{
    level: string;
    load?: number;
    rawLoad?: number;
    actionInFlight?: string;
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

/** `brokel status [--json] [-c FILE]`: asks the running manager's API and prints it. */
export async function runStatus(json: boolean, file: string | undefined): Promise<number> {
  const config = await loadConfig(file);
  const url = `http://${config.api.listen}/api/status`;
  let body: StatusBody;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    body = (await response.json()) as StatusBody;
  } catch (err) {
    console.error(
      `brokel status: no manager answers at ${url} (${(err as Error).message}); is \`brokel up\` running?`,
    );
    return 1;
  }
  if (json) {
    console.log(JSON.stringify(body, null, 2));
    return 0;
  }
  console.log(
    `deployment ${body.deployment}${body.configError ? `  (config rejected: ${body.configError})` : ''}`,
  );
  for (const level of body.levels) {
    const t = body.thresholds[level.level === 'broker' ? 'brokers' : 'orchestrators'];
    console.log(
      `\n${level.level} level: load ${pct(level.load)} (raw ${pct(level.rawLoad)}), thresholds ${t?.lower}–${t?.upper}, ` +
        `min ${t?.min} max ${t?.max}${level.actionInFlight ? `, in flight: ${level.actionInFlight}` : ''}`,
    );
    for (const r of level.replicas) {
      console.log(
        `  ${r.id.padEnd(14)} ${r.template.padEnd(12)} ${(r.poolState ?? r.state).padEnd(9)} cpu ${pct(r.cpu)} smoothed ${pct(r.smoothed)}  ${r.url}${r.sessions === undefined ? '' : `  ${r.sessions} sessions`}`,
      );
    }
  }
  const rb = body.rebalance;
  if (rb) {
    const moves = rb.plan.map((m) => `${m.from}→${m.to} ${m.count}`).join(', ');
    console.log(
      `\n${rb.kind} ${rb.state} (${rb.reason}): ${rb.moved} moved in ${rb.rounds} rounds${rb.outcome ? `, ${rb.outcome}` : ''}${moves ? `; plan ${moves}` : ''}`,
    );
  }
  console.log('\nlast decisions:');
  for (const d of body.decisions.slice(-10))
    console.log(`  #${d.observation} ${d.level.padEnd(12)} ${d.action.padEnd(6)} ${d.reason}`);
  return 0;
}
