import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { ConfigError } from '../../common/errors.ts';
import { kubeError, kubeStatus, retryAfterMs } from '../../manager/providers/kubernetes/api-errors.ts';
import {
  cpuQuantity,
  paramPlaceholders,
  podPorts,
  renderPod,
} from '../../manager/providers/kubernetes/manifest.ts';
import {
  cpuFraction,
  parseCpuQuantity,
  podCpuLimit,
  podState,
  podToReplica,
} from '../../manager/providers/kubernetes/pod-state.ts';

const mosquittoYaml = await readFile(
  new URL('../../templates/mosquitto/k8s/pod.yaml', import.meta.url),
  'utf8',
);

function render(overrides: Partial<Parameters<typeof renderPod>[0]> = {}): V1Pod {
  return renderPod({
    text: mosquittoYaml,
    source: 'templates/mosquitto/k8s/pod.yaml',
    replicaId: 'd-b1',
    deployment: 'd',
    namespace: 'ns',
    level: 'broker',
    template: 'mosquitto',
    cpuQuota: 0.25,
    values: {},
    ...overrides,
  });
}

const T0 = Date.parse('2025-01-01T00:00:00Z');
function pod(status: V1Pod['status'], metadata: V1Pod['metadata'] = {}): V1Pod {
  return {
    metadata: {
      name: 'd-b1',
      creationTimestamp: new Date(T0),
      labels: { 'brokel.io/level': 'broker', 'brokel.io/template': 'mosquitto' },
      ...metadata,
    },
    spec: {
      containers: [
        { name: 'm', ports: [{ name: 'mqtt', containerPort: 1883 }], resources: { limits: { cpu: '250m' } } },
      ],
    },
    status,
  };
}
const ready = { type: 'Ready', status: 'True', lastTransitionTime: new Date(T0 + 2000) };
const notReady = { type: 'Ready', status: 'False', lastTransitionTime: new Date(T0) };

describe('kubernetes manifest rendering (pure)', () => {
  it('fills the placeholders, names and labels the pod, sets the CPU limit as millicores', () => {
    const p = render();
    assert.equal(p.metadata?.name, 'd-b1');
    assert.equal(p.metadata?.namespace, 'ns');
    assert.equal(p.metadata?.labels?.['brokel.io/deployment'], 'd');
    assert.equal(p.metadata?.labels?.['brokel.io/replica'], 'd-b1');
    assert.equal(p.spec?.containers[0]?.resources?.limits?.cpu, '250m');
    assert.equal(p.spec?.containers[0]?.resources?.requests?.cpu, '250m');
    assert.ok(!JSON.stringify(p).includes('${'), 'no placeholder left');
  });

  it('drops cpu requests and limits for an unconstrained replica', () => {
    const p = render({ cpuQuota: undefined });
    assert.equal(p.spec?.containers[0]?.resources?.limits?.cpu, undefined);
    assert.equal(p.spec?.containers[0]?.resources?.limits?.memory, '512Mi');
  });

  it('a value cannot change the manifest structure (filled after parsing)', () => {
    const text = `kind: Pod\nmetadata: { name: x }\nspec:\n  containers:\n    - name: c\n      args: ["\${EVIL}"]\n`;
    const evil = '"]\n      privileged: true\n#';
    const p = render({ text, values: { EVIL: evil } });
    assert.deepEqual(p.spec?.containers[0]?.args, [evil]);
    assert.equal(
      (p.spec?.containers[0] as unknown as Record<string, unknown> | undefined)?.privileged,
      undefined,
    );
  });

  it('refuses a placeholder without a value, naming it; and a manifest that is not a Pod', () => {
    const text = `kind: Pod\nmetadata: { name: x }\nspec: { containers: [{ name: c, image: "\${IMAGE}" }] }\n`;
    assert.throws(
      () => render({ text }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          {
            path: `templates/mosquitto/k8s/pod.yaml: \${IMAGE}`,
            message: 'has no value (set provider.kubernetes.placeholders.IMAGE)',
          },
        ]);
        return true;
      },
    );
    assert.throws(() => render({ text: 'kind: Service\n' }), /is not a Pod manifest/);
    assert.throws(() => render({ text: 'kind: [' }), /not YAML/);
  });

  it('params become placeholders; quantities in millicores', () => {
    assert.deepEqual(
      paramPlaceholders({ adminToken: 't', brokers: ['a', 'b'], routing: 'round-robin', nested: { x: 1 } }),
      {
        ADMIN_TOKEN: 't',
        BROKERS: 'a,b',
        ROUTING: 'round-robin',
      },
    );
    assert.equal(cpuQuantity(0.25), '250m');
    assert.equal(cpuQuantity(2), '2000m');
    assert.equal(cpuQuantity(0.0001), '1m');
  });

  it('ports: mqtt is the main one, the others by name', () => {
    const p: V1Pod = {
      spec: {
        containers: [
          {
            name: 'o',
            ports: [
              { name: 'mqtt', containerPort: 1883 },
              { name: 'admin', containerPort: 9781 },
            ],
          },
        ],
      },
    };
    assert.deepEqual(podPorts(p, 1), { port: 1883, ports: { admin: 9781 } });
    assert.deepEqual(podPorts({ spec: { containers: [{ name: 'x' }] } }, 1883), { port: 1883, ports: {} });
  });
});

describe('pod status → replica (pure)', () => {
  const timeout = 60_000;
  it('maps phases and conditions to states', () => {
    const cases: Array<[string, V1Pod, number, string]> = [
      ['pending, just created', pod({ phase: 'Pending', conditions: [notReady] }), T0 + 1000, 'booting'],
      [
        'running and Ready',
        pod({ phase: 'Running', podIP: '10.0.0.1', conditions: [ready] }),
        T0 + 5000,
        'ready',
      ],
      [
        'not Ready past the timeout',
        pod({ phase: 'Pending', conditions: [notReady] }),
        T0 + 61_000,
        'failed',
      ],
      ['no conditions past the timeout (from creation)', pod({ phase: 'Pending' }), T0 + 61_000, 'failed'],
      [
        'was ready, blipped recently',
        pod({ phase: 'Running', conditions: [{ ...notReady, lastTransitionTime: new Date(T0 + 100_000) }] }),
        T0 + 101_000,
        'booting',
      ],
      ['phase Failed', pod({ phase: 'Failed', reason: 'Evicted' }), T0, 'failed'],
      ['phase Succeeded (exited 0)', pod({ phase: 'Succeeded' }), T0, 'failed'],
      [
        'ImagePullBackOff',
        pod({
          phase: 'Pending',
          containerStatuses: [
            {
              name: 'm',
              ready: false,
              restartCount: 0,
              image: 'i',
              imageID: '',
              state: { waiting: { reason: 'ImagePullBackOff' } },
            },
          ],
        }),
        T0,
        'failed',
      ],
      [
        'ready but annotated draining',
        pod({ phase: 'Running', conditions: [ready] }, { annotations: { 'brokel.io/draining': 'true' } }),
        T0,
        'draining',
      ],
      [
        'terminating',
        pod({ phase: 'Running', conditions: [ready] }, { deletionTimestamp: new Date(T0) }),
        T0,
        'draining',
      ],
    ];
    for (const [what, p, now, expected] of cases) assert.equal(podState(p, now, timeout), expected, what);
  });

  it('builds the replica: pod IP, ports, quota, times, failure reason', () => {
    const r = podToReplica(pod({ phase: 'Running', podIP: '10.0.0.7', conditions: [ready] }), {
      now: T0 + 3000,
      readyTimeoutMs: timeout,
      standardPort: 1883,
    });
    assert.equal(r.url, 'mqtt://10.0.0.7:1883');
    assert.equal(r.cpuQuota, 0.25);
    assert.equal(r.createdAt, T0);
    assert.equal(r.readyAt, T0 + 2000);
    assert.equal(r.level, 'broker');
    const viaService = podToReplica(pod({ phase: 'Running', podIP: '10.0.0.7', conditions: [ready] }), {
      now: T0,
      readyTimeoutMs: timeout,
      serviceIp: '10.96.0.9',
      standardPort: 1883,
    });
    assert.equal(viaService.host, '10.96.0.9');
    const failed = podToReplica(
      pod({
        phase: 'Failed',
        containerStatuses: [
          {
            name: 'm',
            ready: false,
            restartCount: 0,
            image: 'i',
            imageID: '',
            state: { terminated: { exitCode: 137, reason: 'OOMKilled' } },
          },
        ],
      }),
      { now: T0, readyTimeoutMs: timeout, standardPort: 1883 },
    );
    assert.equal(failed.failure?.reason, 'pod Failed: OOMKilled');
    assert.equal(failed.failure?.exitCode, 137);
  });

  it('parses CPU quantities and computes the fraction of the limit', () => {
    const cases: Array<[string | undefined, number | undefined]> = [
      ['250m', 0.25],
      ['1', 1],
      ['1.5', 1.5],
      ['1500u', 0.0015],
      ['123456789n', 0.123456789],
      ['2k', 2000],
      ['abc', undefined],
      ['', undefined],
      [undefined, undefined],
      ['-1', undefined],
    ];
    for (const [q, expected] of cases) {
      const got = parseCpuQuantity(q);
      if (expected === undefined) assert.equal(got, undefined, String(q));
      else assert.ok(got !== undefined && Math.abs(got - expected) < 1e-12, `${q} → ${got}`);
    }
    assert.equal(podCpuLimit(pod({})), 0.25);
    assert.equal(podCpuLimit({ spec: { containers: [{ name: 'a' }] } }), undefined);
    const m = {
      metadata: { name: 'x' },
      containers: [
        { name: 'a', usage: { cpu: '100m' } },
        { name: 'b', usage: { cpu: '25000000n' } },
      ],
    };
    assert.equal(cpuFraction(m, 0.25), 0.5);
    assert.equal(cpuFraction(m, undefined), 0.125);
    assert.equal(
      cpuFraction({ metadata: { name: 'x' }, containers: [{ name: 'a', usage: {} }] }, 1),
      undefined,
    );
  });
});

describe('client-node errors (pure)', () => {
  it('reads the Status from a string body (client-node 1.x), an object body, or none (401)', () => {
    const statusJson = {
      kind: 'Status',
      code: 409,
      reason: 'AlreadyExists',
      message: 'pods "x" already exists',
    };
    assert.deepEqual(kubeStatus({ code: 409, body: JSON.stringify(statusJson) }), {
      code: 409,
      reason: 'AlreadyExists',
      message: 'pods "x" already exists',
    });
    assert.deepEqual(kubeStatus({ code: 409, body: statusJson }), {
      code: 409,
      reason: 'AlreadyExists',
      message: 'pods "x" already exists',
    });
    assert.deepEqual(kubeStatus({ code: 401, body: undefined }), {
      code: 401,
      reason: undefined,
      message: undefined,
    });
    assert.deepEqual(kubeStatus({ code: 502, body: '<html>bad gateway</html>' }), {
      code: 502,
      reason: undefined,
      message: '<html>bad gateway</html>',
    });
    assert.equal(kubeStatus(new Error('connect ECONNREFUSED')).code, 0);
  });

  it('makes ProviderErrors that name the call, with code and retryability', () => {
    const forbidden = kubeError('delete pods/x', {
      code: 403,
      body: '{"reason":"Forbidden","message":"nope"}',
    });
    assert.equal(forbidden.message, 'kubernetes: delete pods/x → 403 Forbidden: nope');
    assert.equal(forbidden.code, 'http_403');
    assert.equal(forbidden.retryable, false);
    const throttled = kubeError('list pods', { code: 429, body: '{}' });
    assert.equal(throttled.retryable, true);
    const down = kubeError('list pods', new Error('connect ECONNREFUSED 127.0.0.1:1\nmore'));
    assert.equal(down.message, 'kubernetes: list pods → no answer (connect ECONNREFUSED 127.0.0.1:1)');
    assert.equal(down.code, 'provider_unreachable');
    assert.equal(retryAfterMs({ headers: { 'retry-after': '2' } }, 5000), 2000);
    assert.equal(retryAfterMs({ headers: { 'retry-after': '60' } }, 5000), 5000);
    assert.equal(retryAfterMs({ headers: {} }, 5000), undefined);
  });
});
