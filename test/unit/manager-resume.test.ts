import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BrokerState } from '../../common/admin/contract.ts';
import type { Replica } from '../../manager/providers/cloud-provider.ts';
import { planResume } from '../../manager/resume.ts';

function broker(id: string, state: Replica['state']): Replica {
  return {
    id,
    level: 'broker',
    template: 'mosquitto',
    host: `127.1.0.${id.slice(1)}`,
    port: 1883,
    url: `mqtt://127.1.0.${id.slice(1)}:1883`,
    state,
    cpuQuota: 0.1,
    createdAt: 0,
    readyAt: undefined,
    ports: {},
    failure: undefined,
  };
}

const ids = (rs: readonly Replica[]) => rs.map((r) => r.id);

describe('resuming after a manager restart (planResume)', () => {
  const b1 = broker('b1', 'ready');
  const reported = (entries: Array<[Replica, BrokerState]>) => new Map(entries.map(([r, s]) => [r.url, s]));

  it('joins a broker the orchestrators never heard of (the manager died between create and join), never sets it active', () => {
    const b2 = broker('b2', 'ready');
    const plan = planResume([b1, b2], reported([[b1, 'active']]));
    assert.deepEqual(ids(plan.join), ['b2']);
    assert.equal(plan.states.get('b2'), undefined, 'not in the pool until its join puts it there');
    assert.equal(plan.states.get('b1'), 'active');
  });

  it('joins a broker still booting, and one reported joining', () => {
    const b2 = broker('b2', 'booting');
    const b3 = broker('b3', 'ready');
    const plan = planResume(
      [b1, b2, b3],
      reported([
        [b1, 'active'],
        [b3, 'joining'],
      ]),
    );
    assert.deepEqual(ids(plan.join), ['b2', 'b3']);
    assert.equal(plan.states.get('b3'), 'joining');
  });

  it('finishes the removal of a broker draining at the provider or on an orchestrator', () => {
    const b2 = broker('b2', 'draining');
    const b3 = broker('b3', 'ready');
    const plan = planResume(
      [b1, b2, b3],
      reported([
        [b1, 'active'],
        [b2, 'draining'],
        [b3, 'draining'],
      ]),
    );
    assert.deepEqual(ids(plan.remove), ['b2', 'b3']);
    assert.equal(plan.states.get('b3'), 'draining');
  });

  it('adopts every ready broker as active when no orchestrator answered, and skips failed ones', () => {
    const plan = planResume([b1, broker('b2', 'failed')], undefined);
    assert.deepEqual([...plan.states], [['b1', 'active']]);
    assert.deepEqual(plan.join, []);
    assert.deepEqual(plan.remove, []);
  });
});
