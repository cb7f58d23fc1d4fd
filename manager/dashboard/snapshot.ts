import type { OrchestratorStatus } from '../../common/admin/contract.ts';
import type { AnswerCount } from '../../common/dns-answers.ts';
import type { OrchestratorRecord } from '../../common/orchestrator-record.ts';
import type { LevelStatus } from '../manager.ts';
import { LEVELS, type Level } from '../providers/cloud-provider.ts';
import { type DashboardHistory, type DecisionMark, type LevelPoint, RateMeter } from './history.ts';

/** What the dashboard needs from the manager's status (Manager.status()). */
export interface ManagerView {
  observation: number;
  levels: LevelStatus[];
  decisions: ReadonlyArray<{
    observation: number;
    level: Level;
    action: string;
    reason: string;
    time: string;
  }>;
  /** The rebalance or evacuation under way, or the last one (Manager.status()). */
  rebalance?: { kind: string; reason: string; state: string; moved: number; rounds: number } | null;
}

export interface LevelSettings {
  lower: number;
  upper: number;
  min: number;
  max: number;
}

export interface SnapshotInput {
  nowMs: number;
  deployment: string;
  policy: string;
  intervalSeconds: number;
  thresholds: Record<Level, LevelSettings>;
  manager: ManagerView;
  /** Per orchestrator id, its admin status (missing: it did not answer). */
  orchestrators: ReadonlyMap<string, OrchestratorStatus>;
  /** geo-dns's directory when it runs in this process (undefined: none to show). */
  dnsRecords: readonly OrchestratorRecord[] | undefined;
  /** geo-dns's answers so far, by client region and orchestrator answered (undefined: no geo-dns here). */
  dnsAnswers?: readonly AnswerCount[] | undefined;
}

export interface DashboardSnapshot {
  time: number;
  deployment: string;
  policy: string;
  intervalSeconds: number;
  observation: number;
  levels: Array<LevelStatus & LevelSettings & { history: readonly LevelPoint[] }>;
  decisions: readonly DecisionMark[];
  orchestrators: Array<{
    id: string;
    state: string;
    answered: boolean;
    draining: boolean;
    sessions: number;
    cpu: number | undefined;
    inPerSecond: number | undefined;
    outPerSecond: number | undefined;
  }>;
  brokers: Array<{
    url: string;
    id: string | undefined;
    state: string;
    sessions: number;
    inflight: number;
    inPerSecond: number | undefined;
    outPerSecond: number | undefined;
  }>;
  dns: Array<{ region: string; records: Array<{ id: string; state: string; load: number }> }> | undefined;
  /** Answers per client region (issue #16): to which orchestrator, how many so far, how many per second now. */
  dnsAnswers:
    | Array<{
        clientRegion: string;
        total: number;
        perSecond: number | undefined;
        orchestrators: Array<{ id: string; answers: number; perSecond: number | undefined }>;
      }>
    | undefined;
  /** Topology changes under way: an action per level, joining or draining replicas. */
  inProgress: string[];
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * Turns one poll of the world into the dashboard's view, feeding the history and the rate meters
 * (pure apart from those two: no sockets, the clock comes in `nowMs`).
 */
export class SnapshotBuilder {
  private readonly rates = new RateMeter();

  constructor(private readonly history: DashboardHistory) {}

  build(input: SnapshotInput): DashboardSnapshot {
    const { manager, nowMs } = input;
    for (const status of manager.levels) {
      const t = input.thresholds[status.level];
      this.history.addPoint(status.level, {
        observation: manager.observation,
        time: nowMs,
        load: status.load ?? null,
        raw: status.rawLoad ?? null,
        lower: t.lower,
        upper: t.upper,
        replicas: status.replicas.filter((r) => r.state !== 'failed').length,
      });
    }
    for (const d of manager.decisions) this.history.addDecision({ ...d, time: Date.parse(d.time) || nowMs });

    // Counters summed per orchestrator (in: client publishes, out: deliveries) and per broker.
    const readings = new Map<string, number>();
    const perBroker = new Map<string, { sessions: number; inflight: number; state: string }>();
    for (const [id, s] of input.orchestrators) {
      readings.set(`o/${id}/in`, sum(s.brokers.map((b) => b.published)));
      readings.set(`o/${id}/out`, sum(s.brokers.map((b) => b.delivered)));
      for (const b of s.brokers) {
        readings.set(`b/${b.url}/in/${id}`, b.published);
        readings.set(`b/${b.url}/out/${id}`, b.delivered);
        const seen = perBroker.get(b.url) ?? { sessions: 0, inflight: 0, state: b.state };
        seen.sessions += b.sessions;
        seen.inflight += b.inflight;
        perBroker.set(b.url, seen);
      }
    }
    for (const a of input.dnsAnswers ?? []) readings.set(`d/${a.clientRegion}/${a.orchestrator}`, a.answers);
    const rate = this.rates.update(readings, nowMs);
    const brokerRate = (url: string, way: 'in' | 'out') => {
      const parts = [...rate].filter(([k]) => k.startsWith(`b/${url}/${way}/`)).map(([, v]) => v);
      return parts.length === 0 || parts.some((v) => v === undefined) ? undefined : sum(parts as number[]);
    };

    const orchestratorLevel = manager.levels.find((l) => l.level === 'orchestrator');
    const brokerLevel = manager.levels.find((l) => l.level === 'broker');
    const inProgress: string[] = [];
    const moving = manager.rebalance;
    if (moving?.state === 'running')
      inProgress.push(
        `${moving.kind} (${moving.reason}): round ${moving.rounds}, ${moving.moved} sessions moved so far`,
      );
    for (const l of manager.levels) {
      if (l.actionInFlight) inProgress.push(`${l.level}: ${l.actionInFlight}`);
      for (const r of l.replicas) {
        const state = r.poolState === 'joining' || r.poolState === 'draining' ? r.poolState : r.state;
        if (state === 'booting' || state === 'joining' || state === 'draining')
          inProgress.push(`${l.level} ${r.id} ${state}`);
      }
    }

    return {
      time: nowMs,
      deployment: input.deployment,
      policy: input.policy,
      intervalSeconds: input.intervalSeconds,
      observation: manager.observation,
      levels: LEVELS.flatMap((level) => {
        const status = manager.levels.find((l) => l.level === level);
        return status ? [{ ...status, ...input.thresholds[level], history: this.history.series(level) }] : [];
      }),
      decisions: this.history.decisions(),
      orchestrators: (orchestratorLevel?.replicas ?? []).map((r) => {
        const s = input.orchestrators.get(r.id);
        return {
          id: r.id,
          state: r.state,
          answered: s !== undefined,
          draining: s?.draining ?? false,
          sessions: s?.sessions ?? 0,
          cpu: r.cpu,
          inPerSecond: rate.get(`o/${r.id}/in`),
          outPerSecond: rate.get(`o/${r.id}/out`),
        };
      }),
      brokers: [...perBroker].map(([url, b]) => ({
        url,
        id: brokerLevel?.replicas.find((r) => r.url === url)?.id,
        state: b.state,
        sessions: b.sessions,
        inflight: b.inflight,
        inPerSecond: brokerRate(url, 'in'),
        outPerSecond: brokerRate(url, 'out'),
      })),
      dns: input.dnsRecords ? byRegion(input.dnsRecords) : undefined,
      dnsAnswers: input.dnsAnswers
        ? answersByRegion(input.dnsAnswers, (a) => rate.get(`d/${a.clientRegion}/${a.orchestrator}`))
        : undefined,
      inProgress,
    };
  }
}

function byRegion(records: readonly OrchestratorRecord[]): NonNullable<DashboardSnapshot['dns']> {
  const regions = new Map<string, Array<{ id: string; state: string; load: number }>>();
  for (const r of records) {
    const region = r.location?.region ?? (r.location ? `${r.location.lat},${r.location.lon}` : 'anywhere');
    const list = regions.get(region) ?? [];
    list.push({ id: r.id, state: r.state, load: r.load });
    regions.set(region, list);
  }
  return [...regions]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([region, list]) => ({ region, records: list.sort((a, b) => a.load - b.load) }));
}

function answersByRegion(
  counts: readonly AnswerCount[],
  rateOf: (a: AnswerCount) => number | undefined,
): NonNullable<DashboardSnapshot['dnsAnswers']> {
  const regions = new Map<string, NonNullable<DashboardSnapshot['dnsAnswers']>[number]>();
  for (const a of counts) {
    const region = regions.get(a.clientRegion) ?? {
      clientRegion: a.clientRegion,
      total: 0,
      perSecond: 0,
      orchestrators: [],
    };
    const perSecond = rateOf(a);
    region.total += a.answers;
    region.perSecond =
      region.perSecond === undefined || perSecond === undefined ? undefined : region.perSecond + perSecond;
    region.orchestrators.push({ id: a.orchestrator, answers: a.answers, perSecond });
    regions.set(a.clientRegion, region);
  }
  for (const r of regions.values())
    r.orchestrators.sort((a, b) => b.answers - a.answers || a.id.localeCompare(b.id));
  return [...regions.values()].sort(
    (a, b) => b.total - a.total || a.clientRegion.localeCompare(b.clientRegion),
  );
}
