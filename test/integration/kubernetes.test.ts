// test-lanes: shared
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { KubeConfig } from '@kubernetes/client-node';
import { validate } from '../../common/config/load.ts';
import { configSchema } from '../../common/config/schema.ts';
import { ConfigError, ProviderError } from '../../common/errors.ts';
import {
  KubernetesProvider,
  type KubernetesProviderConfig,
} from '../../manager/providers/kubernetes/kubernetes-provider.ts';
import { type K8sStandIn, startK8sStandIn } from '../helpers/k8s-stand-in.ts';
import { defer } from '../helpers/remote-provider.ts';
import { uniqueDeployment } from '../helpers/resources.ts';

const NS = 'brokel-test';

function k8sConfig(overrides: Partial<KubernetesProviderConfig> = {}): KubernetesProviderConfig {
  const defaults = validate(configSchema, {}).provider.kubernetes;
  return { ...defaults, namespace: NS, pollIntervalMs: 20, deleteGraceSeconds: 5, ...overrides };
}

async function startK8s(
  t: TestContext,
  standIn: K8sStandIn,
  overrides: Partial<KubernetesProviderConfig> = {},
  kubeConfig: KubeConfig = standIn.kubeConfig(),
) {
  const stateDir = await mkdtemp(join(tmpdir(), 'brokel-k8s-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const deployment = uniqueDeployment('k');
  const provider = await KubernetesProvider.start({
    deployment,
    config: k8sConfig(overrides),
    stateDir,
    kubeConfig,
  });
  defer(t, () => provider.stop());
  return { provider, deployment };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a rejection');
}

const podOf = (standIn: K8sStandIn, id: string) => standIn.pods.get(`${NS}/${id}`);
const calls = (standIn: K8sStandIn, method: string, pathPart: string) =>
  standIn.requests.filter((r) => r.method === method && r.path.includes(pathPart));

describe('kubernetes provider against a local API-server stand-in (real HTTP, client-node unmodified)', () => {
  it('creates a broker pod from its manifest, waits for Ready, reads CPU, drains and deletes it', async (t) => {
    const standIn = await startK8sStandIn(t);
    const { provider, deployment } = await startK8s(t, standIn);
    const created = await provider.create('broker', 'mosquitto', { cpuQuota: 0.25 });
    assert.equal(created.state, 'booting');
    const pod = podOf(standIn, created.id);
    assert.ok(pod, 'the pod exists in the API server');
    assert.deepEqual(
      {
        deployment: pod.metadata.labels['brokel.io/deployment'],
        level: pod.metadata.labels['brokel.io/level'],
        template: pod.metadata.labels['brokel.io/template'],
      },
      { deployment, level: 'broker', template: 'mosquitto' },
    );
    assert.deepEqual(pod.spec.containers[0].resources.limits, { cpu: '250m', memory: '512Mi' });
    assert.equal(pod.spec.restartPolicy, 'Never');
    const ready = await provider.waitReady(created.id, 5000);
    assert.equal(ready.state, 'ready');
    assert.match(ready.host, /^10\.244\.\d+\.\d+$/, 'the pod IP is the address');
    assert.equal(ready.url, `mqtt://${ready.host}:1883`);
    assert.equal(ready.cpuQuota, 0.25);
    assert.ok(ready.readyAt !== undefined);
    // The list call is a label selector on the deployment: another deployment's pod is not seen.
    await provider.list();
    assert.equal(
      calls(standIn, 'GET', '/pods').at(-1)?.query.get('labelSelector'),
      `brokel.io/deployment=${deployment}`,
    );
    // metrics-server has no sample yet: unknown, not zero. Then 125m of a 250m limit: half.
    assert.equal((await provider.cpu([created.id])).get(created.id), undefined);
    standIn.cpuUsage.set(created.id, '125000000n');
    assert.equal((await provider.cpu([created.id])).get(created.id), 0.5);
    await provider.markDraining(created.id);
    const patch = calls(standIn, 'PATCH', `/pods/${created.id}`)[0];
    assert.equal(
      patch?.contentType,
      'application/merge-patch+json',
      'merge-patch content type, not json-patch',
    );
    assert.equal((await provider.list())[0]?.state, 'draining');
    await provider.destroy(created.id);
    assert.equal(calls(standIn, 'DELETE', `/pods/${created.id}`)[0]?.query.get('gracePeriodSeconds'), '5');
    assert.equal(podOf(standIn, created.id), undefined);
    assert.deepEqual(await provider.list(), []);
    await provider.destroy(created.id); // idempotent: the 404 is success
  });

  it('renders an orchestrator pod: params and config placeholders, no CPU limit when unconstrained, admin port', async (t) => {
    const standIn = await startK8sStandIn(t);
    const { provider } = await startK8s(t, standIn, {
      placeholders: { BROKEL_IMAGE: 'registry.test/brokel:1' },
    });
    const params = {
      brokers: ['mqtt://10.244.0.1:1883', 'mqtt://10.244.0.2:1883'],
      adminToken: 'a'.repeat(20),
      routing: 'round-robin',
    };
    const created = await provider.create('orchestrator', 'orchestrator', { params });
    const pod = podOf(standIn, created.id);
    const container = pod?.spec.containers[0];
    assert.equal(container.image, 'registry.test/brokel:1');
    assert.ok(container.command.includes('mqtt://10.244.0.1:1883,mqtt://10.244.0.2:1883'));
    assert.equal(container.readinessProbe.httpGet.httpHeaders[0].value, `Bearer ${'a'.repeat(20)}`);
    assert.equal(container.resources.limits.cpu, undefined);
    assert.equal(container.resources.requests.cpu, undefined);
    const ready = await provider.waitReady(created.id, 5000);
    assert.equal(ready.ports.admin, 9781);
    assert.equal(ready.cpuQuota, undefined);
    // A placeholder without a value is refused before anything is created.
    const { provider: bare } = await startK8s(t, standIn);
    const err = await rejection(bare.create('orchestrator', 'orchestrator', { params }));
    assert.ok(err instanceof ConfigError);
    assert.match(
      err.message,
      /templates\/orchestrator\/k8s\/pod\.yaml: \$\{BROKEL_IMAGE\}: has no value \(set provider\.kubernetes\.placeholders\.BROKEL_IMAGE\)/,
    );
  });

  it('409 AlreadyExists on a pod name: the next name is used', async (t) => {
    const standIn = await startK8sStandIn(t);
    const { provider, deployment } = await startK8s(t, standIn);
    // A pod with the first name but outside the deployment's selector (e.g. left by hand).
    standIn.pods.set(`${NS}/${deployment}-b1`, {
      kind: 'Pod',
      metadata: { name: `${deployment}-b1`, labels: {} },
      spec: { containers: [{ name: 'x' }] },
      status: { phase: 'Running' },
    });
    const created = await provider.create('broker', 'mosquitto', { cpuQuota: 0.1 });
    assert.equal(created.id, `${deployment}-b2`);
    assert.equal(calls(standIn, 'POST', '/pods').length, 2);
  });

  it('403 Forbidden is a clear error with the API message, not retried', async (t) => {
    const standIn = await startK8sStandIn(t);
    const { provider } = await startK8s(t, standIn);
    standIn.forbid('create', 'pods');
    const err = await rejection(provider.create('broker', 'mosquitto'));
    assert.ok(err instanceof ProviderError);
    assert.equal(err.code, 'http_403');
    assert.match(
      err.message,
      /^kubernetes: create pods\/\S+ → 403 Forbidden: pods is forbidden: User ".*" cannot create resource "pods"/,
    );
    assert.equal(calls(standIn, 'POST', '/pods').length, 1);
  });

  it('429 TooManyRequests is retried after Retry-After; 401 is a clear error at start', async (t) => {
    const standIn = await startK8sStandIn(t);
    const { provider } = await startK8s(t, standIn);
    const before = standIn.requests.length;
    standIn.throttle(2);
    assert.deepEqual(await provider.list(), []);
    assert.equal(standIn.requests.length - before, 3, 'two 429s, then the answer');
    const err = await rejection(startK8s(t, standIn, {}, standIn.kubeConfig('wrong-token')));
    assert.ok(err instanceof ProviderError);
    assert.equal(err.code, 'http_401');
    assert.match(err.message, /^kubernetes: list pods -l brokel\.io\/deployment=\S+ → 401/);
  });

  it('a pod that cannot pull its image is failed; missing metrics-server is a clear error', async (t) => {
    const standIn = await startK8sStandIn(t);
    const { provider } = await startK8s(t, standIn);
    standIn.kubelet = () => 'image-pull-backoff';
    const created = await provider.create('broker', 'mosquitto', { cpuQuota: 0.1 });
    const err = await rejection(provider.waitReady(created.id, 5000));
    assert.match(
      err.message,
      new RegExp(`replica ${created.id} failed: container mosquitto: ImagePullBackOff`),
    );
    assert.equal((await provider.list())[0]?.state, 'failed');
    standIn.metricsServer = false;
    const metricsErr = await rejection(provider.cpu([created.id]));
    assert.match(metricsErr.message, /^kubernetes: list pods\.metrics\.k8s\.io -l \S+ → 404 NotFound/);
  });

  it('a pod that never becomes Ready is failed after readyTimeoutSeconds', async (t) => {
    const standIn = await startK8sStandIn(t);
    const { provider } = await startK8s(t, standIn, { readyTimeoutSeconds: 1 });
    standIn.kubelet = () => 'pending';
    const created = await provider.create('broker', 'mosquitto', { cpuQuota: 0.1 });
    const err = await rejection(provider.waitReady(created.id, 10_000));
    assert.match(err.message, /failed: not Ready within 1 s \(phase Pending\)/);
  });

  it('a pod that ignores its grace period is deleted with gracePeriodSeconds=0', async (t) => {
    const standIn = await startK8sStandIn(t);
    const { provider } = await startK8s(t, standIn, { deleteGraceSeconds: 1 });
    const created = await provider.create('broker', 'mosquitto', { cpuQuota: 0.1 });
    await provider.waitReady(created.id, 5000);
    standIn.stuckOnTermination = true;
    const started = Date.now();
    await provider.destroy(created.id);
    const elapsed = Date.now() - started;
    assert.equal(podOf(standIn, created.id), undefined);
    assert.deepEqual(
      calls(standIn, 'DELETE', `/pods/${created.id}`).map((r) => r.query.get('gracePeriodSeconds')),
      ['1', '0'],
    );
    assert.ok(
      elapsed >= 1000 && elapsed < 5000,
      `forced after the grace period and a margin (${elapsed} ms)`,
    );
  });

  it('expose: service gives each replica a ClusterIP Service, deleted with it', async (t) => {
    const standIn = await startK8sStandIn(t);
    const { provider } = await startK8s(t, standIn, { expose: 'service' });
    const created = await provider.create('broker', 'mosquitto', { cpuQuota: 0.1 });
    const service = standIn.services.get(`${NS}/${created.id}`);
    assert.ok(service);
    assert.deepEqual(service.spec.selector, { 'brokel.io/replica': created.id });
    assert.equal(service.spec.ports[0].port, 1883);
    const ready = await provider.waitReady(created.id, 5000);
    assert.equal(ready.host, service.spec.clusterIP);
    assert.equal((await provider.list())[0]?.host, service.spec.clusterIP);
    await provider.destroy(created.id);
    assert.equal(standIn.services.size, 0);
  });
});
