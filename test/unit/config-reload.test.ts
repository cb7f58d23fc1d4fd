import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../common/config/load.ts';
import { applyReload, differingPaths } from '../../common/config/reload.ts';

describe('config reload: what applies live and what needs a restart', () => {
  const running = parseConfig('levels: { brokers: { upper: 0.7 } }');
  it('applies thresholds, interval and policy at once, with nothing waiting', () => {
    const next = parseConfig(
      'levels: { brokers: { upper: 0.8 } }\nmonitor: { intervalSeconds: 2 }\npolicy: proactive',
    );
    const { config, restartRequired } = applyReload(running, next);
    assert.deepEqual(restartRequired, []);
    assert.equal(config.levels.brokers.upper, 0.8);
    assert.equal(config.monitor.intervalSeconds, 2);
    assert.equal(config.policy, 'proactive');
  });
  it('keeps routing, users, deployment and provider as they run, and names each changed path', () => {
    const next = parseConfig(
      [
        'deployment: other',
        'routing: topic-affinity',
        'brokers: { users: [{ username: u, password: secret-password }] }',
        'provider: { kind: kubernetes }',
        'levels: { brokers: { upper: 0.9 } }',
      ].join('\n'),
    );
    const { config, restartRequired } = applyReload(running, next);
    assert.deepEqual(restartRequired, ['deployment', 'routing', 'brokers.users', 'provider.kind']);
    assert.equal(config.routing, running.routing);
    assert.equal(config.deployment, running.deployment);
    assert.deepEqual(config.provider, running.provider);
    assert.equal(config.levels.brokers.upper, 0.9, 'the live part still applies');
  });
  it('finds differing leaves, arrays compared whole', () => {
    assert.deepEqual(differingPaths({ a: { b: 1, c: [1] } }, { a: { b: 1, c: [2] }, d: 1 }), ['a.c', 'd']);
  });
});
