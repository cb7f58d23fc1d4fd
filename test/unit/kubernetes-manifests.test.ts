import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../common/config/load.ts';

/** deploy/kubernetes/*.yaml validated offline (no kubectl, no cluster): kinds, fields, cross-references. */

// biome-ignore lint/suspicious/noExplicitAny: parsed manifests are walked as plain JSON.
type Manifest = Record<string, any>;
const DIR = new URL('../../deploy/kubernetes/', import.meta.url);

async function manifests(): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const file of (await readdir(DIR)).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(await readFile(new URL(file, DIR), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      const value = doc.toJS() as Manifest | null;
      if (value) out.push({ ...value, file });
    }
  }
  return out;
}

function one(all: Manifest[], kind: string, name?: string): Manifest {
  const found = all.filter((m) => m.kind === kind && (name === undefined || m.metadata?.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''}`);
  return found[0] as Manifest;
}

describe('deploy/kubernetes manifests (offline)', async () => {
  const all = await manifests();

  it('every object has apiVersion, kind, a name and the brokel namespace', () => {
    const kinds = all.map((m) => m.kind).sort();
    assert.deepEqual(kinds, [
      'ConfigMap',
      'Deployment',
      'Namespace',
      'Role',
      'RoleBinding',
      'Secret',
      'Service',
      'ServiceAccount',
    ]);
    for (const m of all) {
      assert.equal(typeof m.apiVersion, 'string', `${m.file}: apiVersion`);
      assert.match(m.metadata?.name ?? '', /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${m.file}: metadata.name`);
      if (m.kind !== 'Namespace') assert.equal(m.metadata.namespace, 'brokel', `${m.file}: namespace`);
    }
  });

  it('the ConfigMap holds a brokel.yaml that validates, for the kubernetes provider in this namespace', () => {
    const cm = one(all, 'ConfigMap');
    const config = parseConfig(cm.data['brokel.yaml'], 'deploy/kubernetes/configmap.yaml');
    assert.equal(config.provider.kind, 'kubernetes');
    assert.equal(config.provider.kubernetes.namespace, 'brokel');
    assert.equal(config.provider.kubernetes.kubeconfig, undefined, 'in-cluster config');
    assert.ok(config.provider.kubernetes.placeholders.BROKEL_IMAGE, 'orchestrator pods have an image');
    assert.equal(config.dns.listen, '0.0.0.0:5353');
    const secret = one(all, 'Secret', `${config.deployment}-admin-token`);
    assert.equal(
      secret.stringData.token,
      config.manager.adminToken,
      'the Secret and the config share the token',
    );
  });

  it('the Deployment runs `brokel up -c` on the mounted ConfigMap as the ServiceAccount', () => {
    const deployment = one(all, 'Deployment');
    assert.equal(deployment.apiVersion, 'apps/v1');
    assert.equal(deployment.spec.replicas, 1);
    const pod = deployment.spec.template;
    assert.deepEqual(deployment.spec.selector.matchLabels, pod.metadata.labels);
    assert.equal(pod.spec.serviceAccountName, one(all, 'ServiceAccount').metadata.name);
    const container = pod.spec.containers[0];
    assert.deepEqual(container.command, ['node', 'bin/brokel.js', 'up', '-c', '/etc/brokel/brokel.yaml']);
    const mount = container.volumeMounts.find((v: Manifest) => v.mountPath === '/etc/brokel');
    const volume = pod.spec.volumes.find((v: Manifest) => v.name === mount?.name);
    assert.equal(volume?.configMap?.name, one(all, 'ConfigMap').metadata.name);
    const dnsPorts = container.ports
      .filter((p: Manifest) => p.containerPort === 5353)
      .map((p: Manifest) => p.protocol);
    assert.deepEqual(dnsPorts.sort(), ['TCP', 'UDP']);
  });

  it('RBAC is least privilege: the pod, service and metrics verbs the provider uses, bound to the ServiceAccount', () => {
    const role = one(all, 'Role');
    const rule = (group: string, resource: string) =>
      role.rules.find((r: Manifest) => r.apiGroups.includes(group) && r.resources.includes(resource));
    assert.deepEqual(rule('', 'pods')?.verbs.sort(), ['create', 'delete', 'get', 'list', 'patch', 'watch']);
    assert.deepEqual(rule('', 'services')?.verbs.sort(), ['create', 'delete', 'get', 'list']);
    assert.deepEqual(rule('metrics.k8s.io', 'pods')?.verbs.sort(), ['get', 'list']);
    for (const r of role.rules) {
      assert.ok(!r.verbs.includes('*') && !r.resources.includes('*'), 'no wildcard');
      assert.equal(r.resources.length, 1);
    }
    const binding = one(all, 'RoleBinding');
    assert.deepEqual(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: role.metadata.name,
    });
    assert.deepEqual(binding.subjects, [
      { kind: 'ServiceAccount', name: 'brokel-manager', namespace: 'brokel' },
    ]);
    assert.equal(
      all.some((m) => m.kind === 'ClusterRole' || m.kind === 'ClusterRoleBinding'),
      false,
    );
  });

  it('the DNS Service maps 53 over UDP and TCP to the manager pod port 5353', () => {
    const service = one(all, 'Service');
    const deployment = one(all, 'Deployment');
    assert.deepEqual(service.spec.selector, deployment.spec.template.metadata.labels);
    const container = deployment.spec.template.spec.containers[0];
    const byProtocol = Object.fromEntries(service.spec.ports.map((p: Manifest) => [p.protocol, p]));
    for (const protocol of ['UDP', 'TCP']) {
      const port = byProtocol[protocol];
      assert.equal(port?.port, 53, `${protocol} 53`);
      const target = container.ports.find((p: Manifest) => p.name === port.targetPort);
      assert.equal(target?.containerPort, 5353, `${protocol} → 5353`);
      assert.equal(target?.protocol, protocol);
    }
  });
});
