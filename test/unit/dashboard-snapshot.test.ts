import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DashboardHistory, MAX_POINTS, RateMeter } from '../../manager/dashboard/history.ts';
import { type ManagerView, SnapshotBuilder } from '../../manager/dashboard/snapshot.ts';
import type { OrchestratorStatus } from '../../orchestrator/orchestrator.ts';

const T = { lower: 0.3, upper: 0.7, min: 1, max: 3 };

function orchestratorStatus(published: number, delivered: number): OrchestratorStatus {
  return {
    draining: false,
    sessions: 4,
    routing: 'round-robin',
    cpu: 0.1,
    buffers: { inflightFromClients: 0, deliveriesInflight: 0, deliveriesBuffered: 0, maxSessionBuffered: 0 },
    brokers: [
      {
        id: 'x',
        url: 'mqtt://127.0.0.1:1883',
        state: 'active',
        retainedFence: false,
        retainedUnsettled: 0,
        synced: true,
        sessions: 4,
        inflight: 2,
        published,
        delivered,
      },
    ],
  };
}

function managerView(observation: number, decisions: ManagerView['decisions'] = []): ManagerView {
  const replica = (id: string, level: 'broker' | 'orchestrator', url: string) => ({
    id,
    level,
    template: level === 'broker' ? 'mosquitto' : 'orchestrator',
    host: '127.0.0.1',
    port: 1883,
    url,
    state: 'ready' as const,
    cpuQuota: undefined,
    createdAt: 0,
    readyAt: 0,
    ports: {},
    failure: undefined,
  });
  return {
    observation,
    decisions,
    levels: [
      {
        level: 'broker',
        replicas: [{ ...replica('b1', 'broker', 'mqtt://127.0.0.1:1883'), poolState: 'active' }],
        load: 0.5,
        rawLoad: 0.6,
        forecast: undefined,
        actionInFlight: 'add',
      },
      {
        level: 'orchestrator',
        replicas: [replica('o1', 'orchestrator', 'mqtt://127.0.0.2:1883')],
        load: 0.2,
        rawLoad: 0.2,
        forecast: undefined,
        actionInFlight: undefined,
      },
    ],
  };
}

describe('dashboard snapshot (pure)', () => {
  it('rates come from counter differences over the time that passed; a reset restarts them', () => {
    const meter = new RateMeter();
    assert.equal(meter.update(new Map([['a', 100]]), 0).get('a'), undefined);
    assert.equal(meter.update(new Map([['a', 600]]), 2000).get('a'), 250);
    assert.equal(meter.update(new Map([['a', 10]]), 3000).get('a'), undefined, 'counter went down');
    assert.equal(meter.update(new Map([['a', 20]]), 4000).get('a'), 10);
  });

  it('keeps one point per observation, at most MAX_POINTS, and only add/remove decisions once', () => {
    const history = new DashboardHistory();
    for (let i = 1; i <= MAX_POINTS + 10; i++) {
      const point = { observation: i, time: i, load: 0.5, raw: 0.5, lower: 0.3, upper: 0.7, replicas: 1 };
      history.addPoint('broker', point);
      history.addPoint('broker', { ...point, load: 0.9 });
    }
    assert.equal(history.series('broker').length, MAX_POINTS);
    assert.equal(history.series('broker').at(-1)?.load, 0.5);
    const mark = { observation: 3, time: 0, level: 'broker' as const, action: 'add', reason: 'r' };
    history.addDecision(mark);
    history.addDecision(mark);
    history.addDecision({ ...mark, action: 'none' });
    assert.equal(history.decisions().length, 1);
  });

  it('builds levels with history, msg/s per orchestrator and broker, and what is in progress', () => {
    const builder = new SnapshotBuilder(new DashboardHistory());
    const base = {
      deployment: 'd',
      policy: 'reactive',
      intervalSeconds: 1,
      thresholds: { broker: T, orchestrator: T },
      dnsRecords: [
        {
          id: 'o1',
          host: '127.0.0.2',
          port: 1883,
          state: 'ready' as const,
          load: 0.2,
          location: { lat: 1, lon: 2, region: 'rome' },
        },
      ],
    };
    builder.build({
      ...base,
      nowMs: 0,
      manager: managerView(1),
      orchestrators: new Map([['o1', orchestratorStatus(0, 0)]]),
    });
    const add = {
      observation: 2,
      level: 'broker' as const,
      action: 'add',
      reason: 'load',
      time: new Date(0).toISOString(),
    };
    const s = builder.build({
      ...base,
      nowMs: 1000,
      manager: managerView(2, [add]),
      orchestrators: new Map([['o1', orchestratorStatus(500, 300)]]),
    });
    assert.equal(s.levels[0]?.history.length, 2);
    assert.deepEqual(
      s.orchestrators.map((o) => [o.id, o.sessions, o.inPerSecond, o.outPerSecond]),
      [['o1', 4, 500, 300]],
    );
    assert.deepEqual(
      s.brokers.map((b) => [b.id, b.inflight, b.inPerSecond]),
      [['b1', 2, 500]],
    );
    assert.deepEqual(s.dns, [{ region: 'rome', records: [{ id: 'o1', state: 'ready', load: 0.2 }] }]);
    assert.deepEqual(s.inProgress, ['broker: add']);
    assert.equal(s.decisions.length, 1);
    assert.equal(s.dnsAnswers, undefined, 'no answer tally given: none to show');
    // A rebalance under way is in progress too (issue #16: "a rebalance/drain in progress").
    const rebalance = {
      kind: 'rebalance',
      reason: 'orchestrator joined',
      state: 'running',
      moved: 7,
      rounds: 1,
    };
    const moving = builder.build({
      ...base,
      nowMs: 2000,
      manager: { ...managerView(3), rebalance },
      orchestrators: new Map([['o1', orchestratorStatus(500, 300)]]),
    });
    assert.deepEqual(moving.inProgress, [
      'rebalance (orchestrator joined): round 1, 7 sessions moved so far',
      'broker: add',
    ]);
    const done = builder.build({
      ...base,
      nowMs: 3000,
      manager: { ...managerView(4), rebalance: { ...rebalance, state: 'finished' } },
      orchestrators: new Map([['o1', orchestratorStatus(500, 300)]]),
    });
    assert.deepEqual(done.inProgress, ['broker: add']);
  });

  it('groups geo-dns answers by client region, busiest first, with per-second rates from the second poll', () => {
    const builder = new SnapshotBuilder(new DashboardHistory());
    const input = (nowMs: number, rome: number, va: number) => ({
      nowMs,
      deployment: 'd',
      policy: 'reactive',
      intervalSeconds: 1,
      thresholds: { broker: T, orchestrator: T },
      manager: managerView(1),
      orchestrators: new Map<string, OrchestratorStatus>(),
      dnsRecords: [],
      dnsAnswers: [
        { clientRegion: 'eu-south', orchestrator: 'o1', answers: rome },
        { clientRegion: 'eu-south', orchestrator: 'o2', answers: 1 },
        { clientRegion: 'us-east', orchestrator: 'o2', answers: va },
      ],
    });
    const first = builder.build(input(0, 10, 2));
    assert.equal(first.dnsAnswers?.[0]?.perSecond, undefined, 'no rate before a second reading');
    const s = builder.build(input(2000, 30, 4));
    assert.deepEqual(s.dnsAnswers, [
      {
        clientRegion: 'eu-south',
        total: 31,
        perSecond: 10,
        orchestrators: [
          { id: 'o1', answers: 30, perSecond: 10 },
          { id: 'o2', answers: 1, perSecond: 0 },
        ],
      },
      {
        clientRegion: 'us-east',
        total: 4,
        perSecond: 1,
        orchestrators: [{ id: 'o2', answers: 4, perSecond: 1 }],
      },
    ]);
  });
});
