// test-lanes: shared
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validate } from '../../common/config/load.ts';
import { configSchema } from '../../common/config/schema.ts';
import { KubernetesProvider } from '../../manager/providers/kubernetes/kubernetes-provider.ts';
import { freePort } from '../../manager/providers/local/address-pool.ts';
import { down, smallLocalConfig, up, workDir } from '../helpers/brokel-process.ts';
import { startK8sStandIn } from '../helpers/k8s-stand-in.ts';
import { CLOUD_TOKEN, defer, startCloud, startOpenNebula } from '../helpers/remote-provider.ts';
import {
  leftoverCgroups,
  pidAlive,
  processesOf,
  uniqueDeployment,
  waitFor,
  within,
} from '../helpers/resources.ts';

const NS = 'brokel-test';

describe('stopping the manager keeps the data plane; brokel down tears it down (issue 11, defect 1)', () => {
  it('kubernetes (API-server stand-in): SIGTERM of brokel up deletes no pod; brokel down deletes them all', async (t) => {
    const standIn = await startK8sStandIn(t);
    // Orchestrator pods stay Pending (the stand-in runs no containers, so none could answer the admin
    // API): the manager adopts them as booting and never calls them.
    standIn.kubelet = (pod) =>
      pod.metadata?.labels?.['brokel.io/level'] === 'orchestrator' ? 'pending' : 'ready';
    const dir = await workDir(t, 'brokel-down-');
    const deployment = uniqueDeployment('kd');
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, standIn.kubeConfig().exportConfig());
    const kubernetes = {
      kubeconfig,
      namespace: NS,
      pollIntervalMs: 20,
      deleteGraceSeconds: 1,
      placeholders: { BROKEL_IMAGE: 'registry.test/brokel:1' },
    };
    // A previous manager's replicas, as a rollout leaves them.
    const before = await KubernetesProvider.start({
      deployment,
      config: validate(configSchema, { provider: { kind: 'kubernetes', kubernetes } }).provider.kubernetes,
      stateDir: dir,
    });
    const broker = await before.create('broker', 'mosquitto');
    await before.waitReady(broker.id, 10_000);
    await before.create('orchestrator', 'orchestrator', {
      params: { brokers: [], adminToken: 'x'.repeat(24), routing: 'round-robin' },
    });
    await before.close();
    const file = join(dir, 'brokel.yaml');
    const apiPort = await freePort('127.0.0.1');
    await writeFile(
      file,
      [
        `deployment: ${deployment}`,
        `manager: { decisionLog: ${join(dir, 'decisions.jsonl')}, adminToken: ${'t'.repeat(24)} }`,
        'monitor: { intervalSeconds: 0.5 }',
        `provider: { kind: kubernetes, kubernetes: ${JSON.stringify(kubernetes)} }`,
        `api: { listen: 127.0.0.1:${apiPort} }`,
        'dns: { enabled: false }',
        '',
      ].join('\n'),
    );
    const pods = () =>
      [...standIn.pods.values()].filter((p) => p.metadata.labels?.['brokel.io/deployment'] === deployment);
    assert.equal(pods().length, 2);
    const manager = await up(t, file);
    const deletesBefore = standIn.requests.filter((r) => r.method === 'DELETE').length;
    manager.child.kill('SIGTERM');
    assert.equal(await within(manager.exited, 30_000, 'brokel up to exit'), 0);
    assert.equal(standIn.requests.filter((r) => r.method === 'DELETE').length, deletesBefore, 'no DELETE');
    assert.equal(pods().length, 2, 'every pod outlives the manager');
    assert.match(manager.output(), /every replica keeps running/);
    // A running manager would recreate what down destroys: down refuses while one answers.
    const again = await up(t, file);
    const refused = await down(file);
    assert.equal(refused.code, 1, refused.out);
    assert.match(refused.out, /a manager still answers/);
    again.child.kill('SIGTERM');
    await within(again.exited, 30_000, 'brokel up to exit');
    assert.equal(pods().length, 2);
    const done = await down(file);
    assert.equal(done.code, 0, done.out);
    assert.match(done.out, /is down: 2 replica\(s\) destroyed/);
    await waitFor(() => pods().length === 0, 10_000, 'every pod deleted');
  });

  it('local: brokel up --keep-replicas leaves the replicas running on SIGTERM; brokel down removes them all', async (t) => {
    const dir = await workDir(t, 'brokel-down-');
    const deployment = `kr${process.pid}`;
    const { file, apiPort } = await smallLocalConfig(dir, deployment);
    defer(t, () => down(file)); // whatever happens below, nothing is left running (a no-op when down ran)
    let at = performance.now();
    const lap = (what: string) => {
      t.diagnostic(`${what}: ${((performance.now() - at) / 1000).toFixed(1)} s`);
      at = performance.now();
    };
    const manager = await up(t, file, ['--keep-replicas']);
    lap('up');
    const status = (await (await fetch(`http://127.0.0.1:${apiPort}/api/status`)).json()) as {
      levels: Array<{ replicas: Array<{ id: string }> }>;
    };
    assert.equal(status.levels.flatMap((l) => l.replicas).length, 2);
    manager.child.kill('SIGTERM');
    assert.equal(await within(manager.exited, 30_000, 'brokel up to exit'), 0);
    lap('SIGTERM');
    // Both replicas run on: the broker (mosquitto) and the orchestrator (node), seen in their state folder.
    const running = processesOf(`/brokel/${deployment}/`);
    assert.ok(
      running.some((p) => p.includes('mosquitto')),
      running.join('\n'),
    );
    assert.ok(
      running.some((p) => p.includes('bin/brokel.js orchestrator')),
      running.join('\n'),
    );
    const pids = running.map((p) => Number(p.split(' ')[0]));
    const done = await down(file);
    assert.equal(done.code, 0, done.out);
    assert.match(done.out, /is down: 2 replica\(s\) destroyed/);
    assert.deepEqual(
      pids.filter((pid) => pidAlive(pid)),
      [],
    );
    assert.deepEqual(processesOf(`/brokel/${deployment}/`), []);
    assert.deepEqual(leftoverCgroups(deployment), []);
  });

  it('opennebula (brokel cloud serve): brokel down deletes every VM of the deployment and only those', async (t) => {
    const cloud = await startCloud(t);
    const dir = await workDir(t, 'brokel-down-');
    const deployment = uniqueDeployment('od');
    const ours = await startOpenNebula(t, cloud.url, { deployment });
    const other = await startOpenNebula(t, cloud.url);
    const vm = await ours.create('broker', 'mosquitto');
    const kept = await other.create('broker', 'mosquitto');
    await ours.waitReady(vm.id, 20_000);
    const file = join(dir, 'brokel.yaml');
    await writeFile(
      file,
      [
        `deployment: ${deployment}`,
        `provider: { kind: opennebula, opennebula: { url: '${cloud.url}', token: ${CLOUD_TOKEN} } }`,
        `api: { listen: 127.0.0.1:${await freePort('127.0.0.1')} }`,
        'dns: { enabled: false }',
        '',
      ].join('\n'),
    );
    const done = await down(file);
    assert.equal(done.code, 0, done.out);
    assert.match(done.out, /is down: 1 replica\(s\) destroyed/);
    assert.deepEqual(
      (await cloud.local.list()).map((r) => r.id),
      [kept.id],
      'the other deployment keeps its VM',
    );
  });
});
