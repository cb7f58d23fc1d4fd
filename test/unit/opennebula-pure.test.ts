import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Replica } from '../../manager/providers/cloud-provider.ts';
import { resolveCloudRoute } from '../../manager/providers/local/rest-routes.ts';
import {
  labelQuery,
  labelsMatch,
  parseLabelSelector,
  parseVm,
  replicaToVm,
  vmToReplica,
} from '../../manager/providers/opennebula/rest-api.ts';
import {
  backoffBounds,
  backoffDelayMs,
  bodyExcerpt,
  shouldRetry,
} from '../../manager/providers/opennebula/retry.ts';

const replica: Replica = {
  id: 'cloud-o1',
  level: 'orchestrator',
  template: 'orchestrator',
  host: '127.42.0.3',
  port: 1883,
  url: 'mqtt://127.42.0.3:1883',
  state: 'ready',
  cpuQuota: 0.5,
  createdAt: Date.parse('2025-01-01T00:00:00.000Z'),
  readyAt: Date.parse('2025-01-01T00:00:01.500Z'),
  ports: { admin: 9781 },
  failure: undefined,
};

describe('opennebula REST API (pure)', () => {
  it('a replica survives the trip to a VM and back; draining is the client-side mark', () => {
    const vm = replicaToVm(replica, { 'brokel.io/deployment': 'd' }, 0.25);
    assert.equal(vm.state, 'RUNNING');
    assert.deepEqual(vm.cpu, { allocated: 0.5, usage: 0.25 });
    assert.ok(parseVm(JSON.parse(JSON.stringify(vm))), 'the JSON form parses');
    assert.deepEqual(vmToReplica(vm, false), replica);
    assert.equal(vmToReplica(vm, true).state, 'draining');
    const failed = replicaToVm(
      { ...replica, state: 'failed', failure: { reason: 'x', exitCode: 1, signal: null, logTail: [] } },
      {},
      undefined,
    );
    assert.equal(vmToReplica(failed, true).state, 'failed', 'a failed VM stays failed when marked draining');
    assert.equal(
      vmToReplica({ ...vm, state: 'PENDING', cpu: { allocated: null, usage: null } }, false).cpuQuota,
      undefined,
    );
  });

  it('label selectors: query string round trip and matching', () => {
    const query = labelQuery({ 'brokel.io/deployment': 'd1', 'brokel.io/level': 'broker' });
    assert.equal(query, '?label=brokel.io%2Fdeployment%3Dd1&label=brokel.io%2Flevel%3Dbroker');
    const selector = parseLabelSelector(new URLSearchParams(query.slice(1)).getAll('label'));
    assert.deepEqual(selector, { 'brokel.io/deployment': 'd1', 'brokel.io/level': 'broker' });
    assert.equal(parseLabelSelector(['novalue']), undefined);
    assert.equal(parseLabelSelector(['=v']), undefined);
    assert.ok(labelsMatch({ a: '1', b: '2' }, { a: '1' }));
    assert.ok(!labelsMatch({ a: '1' }, { a: '1', b: '2' }));
    assert.equal(labelQuery({}), '');
  });

  it('routes of brokel cloud serve', () => {
    const cases: Array<[string, string, unknown]> = [
      ['POST', '/vms', { kind: 'create' }],
      ['GET', '/vms?label=a%3Db', { kind: 'list', selector: { a: 'b' } }],
      ['GET', '/vms', { kind: 'list', selector: {} }],
      ['GET', '/vms?label=bad', { kind: 'bad-request', message: 'label must be KEY=VALUE' }],
      ['GET', '/vms/cloud-b1', { kind: 'show', id: 'cloud-b1' }],
      ['DELETE', '/vms/cloud-b1', { kind: 'delete', id: 'cloud-b1' }],
      ['PUT', '/vms/cloud-b1', { kind: 'wrong-method', path: '/vms/cloud-b1', allow: 'GET, DELETE' }],
      ['DELETE', '/vms', { kind: 'wrong-method', path: '/vms', allow: 'GET, POST' }],
      ['GET', '/vms/a/b', { kind: 'not-found', path: '/vms/a/b' }],
      ['GET', '/vms/%E0%A4%A', { kind: 'bad-request', message: 'bad VM id in /vms/%E0%A4%A' }],
    ];
    for (const [method, target, expected] of cases)
      assert.deepEqual(resolveCloudRoute(method, target), expected, `${method} ${target}`);
  });
});

describe('REST client retry policy (pure)', () => {
  it('retries 5xx for every method, no answer only for idempotent ones, never 4xx', () => {
    const cases: Array<[string, Parameters<typeof shouldRetry>[1], boolean]> = [
      ['GET', { kind: 'status', status: 500 }, true],
      ['POST', { kind: 'status', status: 503 }, true],
      ['DELETE', { kind: 'no-answer' }, true],
      ['GET', { kind: 'no-answer' }, true],
      ['POST', { kind: 'no-answer' }, false],
      ['GET', { kind: 'status', status: 401 }, false],
      ['POST', { kind: 'status', status: 404 }, false],
    ];
    for (const [method, outcome, expected] of cases)
      assert.equal(shouldRetry(method, outcome), expected, `${method} ${JSON.stringify(outcome)}`);
  });

  it('backs off exponentially with equal jitter, capped', () => {
    assert.deepEqual(backoffBounds(5, 100, 1000), [
      [50, 100],
      [100, 200],
      [200, 400],
      [400, 800],
      [500, 1000],
    ]);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelayMs(2, 100, 1000, i / 100);
      assert.ok(d >= 200 && d <= 400, `${d}`);
    }
  });

  it('quotes a one-line body excerpt', () => {
    assert.equal(bodyExcerpt('{"error":\n  "x"}'), '{"error": "x"}');
    assert.equal(bodyExcerpt('a'.repeat(300), 10), `${'a'.repeat(10)}…`);
  });
});
