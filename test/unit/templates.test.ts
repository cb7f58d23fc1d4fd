import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ORCHESTRATOR_ENV } from '../../templates/orchestrator/process-env.ts';
import { findTemplate, templateNames } from '../../templates/registry.ts';
import { renderOrchestrator } from '../helpers/orchestrator-template.ts';

/** A cloud-file placeholder, `${NAME}`, as the kubernetes/opennebula providers fill them. */
const ph = (name: string): string => `$${'{'}${name}}`;

const TEMPLATES_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../templates');

interface Pod {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    containers: Array<{
      name: string;
      image: string;
      ports: Array<{ containerPort: number }>;
      readinessProbe: unknown;
      resources: { limits: { cpu: unknown } };
    }>;
  };
}

describe('templates are self-describing and their cloud files stay valid', () => {
  it('registers mosquitto, rabbitmq and orchestrator', () => {
    assert.deepEqual(templateNames().sort(), ['mosquitto', 'orchestrator', 'rabbitmq']);
  });
  for (const name of ['mosquitto', 'rabbitmq', 'orchestrator']) {
    const template = findTemplate(name);
    it(`${name}: its Kubernetes manifest is a v1 Pod with the labels, port, readiness probe and CPU limit the provider needs`, () => {
      const pod = parse(readFileSync(join(TEMPLATES_DIR, name, template.files.kubernetesPod), 'utf8')) as Pod;
      assert.equal(pod.apiVersion, 'v1');
      assert.equal(pod.kind, 'Pod');
      assert.equal(pod.metadata.name, ph('REPLICA_ID'));
      assert.equal(pod.metadata.labels['brokel.io/level'], template.level);
      assert.equal(pod.metadata.labels['brokel.io/template'], name);
      assert.equal(pod.metadata.labels['brokel.io/deployment'], ph('DEPLOYMENT'));
      const container = pod.spec.containers[0];
      assert.ok(container?.image);
      assert.ok(container.ports.some((p) => p.containerPort === template.standardPort));
      assert.ok(container.readinessProbe);
      assert.equal(container.resources.limits.cpu, ph('CPU_LIMIT'));
    });
    it(`${name}: its OpenNebula-style VM template is JSON with NAME, CPU, MEMORY, DISK and a start CONTEXT`, () => {
      const vm = JSON.parse(
        readFileSync(join(TEMPLATES_DIR, name, template.files.opennebulaVm), 'utf8'),
      ) as Record<string, unknown>;
      for (const field of ['NAME', 'CPU', 'VCPU', 'MEMORY', 'DISK', 'CONTEXT'])
        assert.ok(vm[field] !== undefined, `${field} missing`);
      // CPU is the VM's size: a number, or the provider's placeholder for the level's cpuQuota.
      assert.ok(Number(vm.CPU) > 0 || /^\$\{[A-Z_]+\}$/.test(String(vm.CPU)), `CPU ${vm.CPU}`);
      assert.ok(Number(vm.MEMORY) > 0);
      assert.equal((vm.CONTEXT as Record<string, string>).BROKEL_TEMPLATE, name);
    });
    it(`${name}: has a README`, () => {
      assert.ok(readFileSync(join(TEMPLATES_DIR, name, template.files.readme), 'utf8').length > 200);
    });
  }
  it('orchestrator: the pod and the VM start it with the environment the local provider gives it (process-env.ts)', async () => {
    const dir = join(TEMPLATES_DIR, 'orchestrator');
    const { files } = findTemplate('orchestrator');
    const pod = parse(readFileSync(join(dir, files.kubernetesPod), 'utf8')) as {
      spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> };
    };
    const podEnv = pod.spec.containers[0]?.env ?? [];
    const vm = JSON.parse(readFileSync(join(dir, files.opennebulaVm), 'utf8')) as {
      CONTEXT: { START_SCRIPT: string };
    };
    // The VM's start script: the assignments before `node`.
    const vmAssignments = (vm.CONTEXT.START_SCRIPT.split(' node ')[0] ?? '').split(' ');
    const spec = await renderOrchestrator({ brokers: ['mqtt://127.0.0.1:1'] });
    assert.ok(Object.keys(ORCHESTRATOR_ENV).length > 0);
    for (const [name, value] of Object.entries(ORCHESTRATOR_ENV)) {
      assert.equal(spec.env?.[name], value, `local provider: ${name}`);
      assert.equal(podEnv.find((e) => e.name === name)?.value, value, `k8s/pod.yaml: ${name}`);
      assert.ok(vmAssignments.includes(`${name}=${value}`), `vm-template.json: ${name}`);
    }
  });
});
