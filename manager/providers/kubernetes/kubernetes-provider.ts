import { readFile, rmdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { KubeConfig, type V1Pod, type V1Service } from '@kubernetes/client-node';
import type { BrokelConfig } from '../../../common/config/schema.ts';
import { ConfigError, errorMessage, ProviderError, TimeoutError } from '../../../common/errors.ts';
import { type Logger, silentLogger } from '../../../common/logger.ts';
import { findTemplate } from '../../../templates/registry.ts';
import type { CloudProvider, CreateOptions, Level, Replica } from '../cloud-provider.ts';
import { nextReplicaId } from '../local/replica-store.ts';
import { checkRemoteCreate } from '../opennebula/opennebula-provider.ts';
import { kubeErrorStatus } from './api-errors.ts';
import { KubeApi } from './kube-api.ts';
import { DRAINING_ANNOTATION, deploymentSelector, LABELS, paramPlaceholders, renderPod } from './manifest.ts';
import { cpuFraction, podCpuLimit, podToReplica } from './pod-state.ts';

export type KubernetesProviderConfig = BrokelConfig['provider']['kubernetes'];

export interface KubernetesProviderOptions {
  deployment: string;
  config: KubernetesProviderConfig;
  /** Where the manager keeps its own files for this deployment (admin token). */
  stateDir: string;
  /** A KubeConfig built by the caller (tests); else loaded from config.kubeconfig / the defaults. */
  kubeConfig?: KubeConfig;
  logger?: Logger;
}

/** In-cluster service account, KUBECONFIG or ~/.kube/config (library order), or an explicit file. */
export function loadKubeConfig(config: KubernetesProviderConfig): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (config.kubeconfig !== undefined) kc.loadFromFile(config.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new ConfigError([{ path: 'provider.kubernetes.kubeconfig', message: errorMessage(err) }]);
  }
  if (config.context !== undefined) {
    if (!kc.getContexts().some((c) => c.name === config.context))
      throw new ConfigError([
        {
          path: 'provider.kubernetes.context',
          message: `${JSON.stringify(config.context)} is not in the kubeconfig`,
        },
      ]);
    kc.setCurrentContext(config.context);
  }
  if (!kc.getCurrentCluster())
    throw new ConfigError([
      { path: 'provider.kubernetes.kubeconfig', message: 'no cluster (no current context)' },
    ]);
  return kc;
}

const TEMPLATES_DIR = fileURLToPath(new URL('../../../templates/', import.meta.url));

/**
 * Replicas are bare pods (restartPolicy Never: the manager replaces failed replicas itself) made
 * from each template's k8s/pod.yaml, labelled brokel.io/deployment|level|template|replica. State
 * and address come from the pod's status, CPU from metrics.k8s.io. Nothing is kept locally: a
 * restarted manager finds its replicas by label.
 */
export class KubernetesProvider implements CloudProvider {
  readonly kind = 'kubernetes';
  readonly stateDir: string;
  private readonly api: KubeApi;
  private readonly log: Logger;
  private readonly selector: string;
  private readonly manifests = new Map<string, string>();
  private stopped = false;

  private constructor(private readonly o: KubernetesProviderOptions) {
    this.stateDir = o.stateDir;
    this.log = o.logger ?? silentLogger();
    this.selector = deploymentSelector(o.deployment);
    this.api = new KubeApi(o.kubeConfig ?? loadKubeConfig(o.config), {
      namespace: o.config.namespace,
      requestTimeoutMs: o.config.requestTimeoutMs,
    });
  }

  /** Opens the provider: one list call, so a wrong server, token or RBAC fails at start, clearly. */
  static async start(options: KubernetesProviderOptions): Promise<KubernetesProvider> {
    const provider = new KubernetesProvider(options);
    const pods = await provider.api.listPods(provider.selector);
    provider.log.info(
      { namespace: options.config.namespace, pods: pods.length },
      'kubernetes provider ready',
    );
    return provider;
  }

  private view() {
    return { now: Date.now(), readyTimeoutMs: this.o.config.readyTimeoutSeconds * 1000 };
  }

  private toReplica(pod: V1Pod, services: ReadonlyMap<string, string>): Replica {
    const name = pod.metadata?.name ?? '';
    const template = pod.metadata?.labels?.[LABELS.template];
    const standardPort = template === undefined ? 1883 : (findTemplateSafe(template)?.standardPort ?? 1883);
    return podToReplica(pod, { ...this.view(), serviceIp: services.get(name), standardPort });
  }

  /** Cluster IP of each replica's Service (expose: service), by replica id. */
  private async serviceIps(): Promise<Map<string, string>> {
    if (this.o.config.expose !== 'service') return new Map();
    const services = await this.api.listServices(this.selector);
    return new Map(
      services.flatMap((s) =>
        s.metadata?.name && s.spec?.clusterIP && s.spec.clusterIP !== 'None'
          ? [[s.metadata.name, s.spec.clusterIP] as const]
          : [],
      ),
    );
  }

  async list(): Promise<Replica[]> {
    const [pods, services] = await Promise.all([this.api.listPods(this.selector), this.serviceIps()]);
    return pods.map((pod) => this.toReplica(pod, services)).sort((a, b) => a.createdAt - b.createdAt);
  }

  private async manifest(template: string): Promise<{ text: string; source: string }> {
    const file = `${template}/${findTemplate(template).files.kubernetesPod}`;
    let text = this.manifests.get(file);
    if (text === undefined) {
      text = await readFile(`${TEMPLATES_DIR}${file}`, 'utf8');
      this.manifests.set(file, text);
    }
    return { text, source: `templates/${file}` };
  }

  async create(level: Level, template: string, options: CreateOptions = {}): Promise<Replica> {
    if (this.stopped) throw new ProviderError('the kubernetes provider is stopped');
    checkRemoteCreate(level, template, options);
    const { text, source } = await this.manifest(template);
    const taken = new Set((await this.api.listPods(this.selector)).map((p) => p.metadata?.name ?? ''));
    // Another manager (or a pod still terminating) may hold the next name: 409, then the one after.
    for (let attempt = 0; attempt < 5; attempt++) {
      const id = nextReplicaId(this.o.deployment, level, taken);
      const pod = renderPod({
        text,
        source,
        replicaId: id,
        deployment: this.o.deployment,
        namespace: this.o.config.namespace,
        level,
        template,
        cpuQuota: options.cpuQuota,
        values: { ...this.o.config.placeholders, ...paramPlaceholders(options.params ?? {}) },
      });
      let created: V1Pod;
      try {
        created = await this.api.createPod(pod);
      } catch (err) {
        if (kubeErrorStatus(err) === 409) {
          taken.add(id);
          continue;
        }
        throw err;
      }
      const services = new Map<string, string>();
      if (this.o.config.expose === 'service') {
        try {
          const service = await this.api.createService(serviceFor(created));
          if (service.spec?.clusterIP) services.set(id, service.spec.clusterIP);
        } catch (err) {
          await this.api.deletePod(id, 0).catch(() => undefined);
          throw err;
        }
      }
      this.log.info({ replica: id, template, cpuQuota: options.cpuQuota }, 'pod created');
      return this.toReplica(created, services);
    }
    throw new ProviderError(`kubernetes: no free pod name for ${level} after 5 attempts (409 AlreadyExists)`);
  }

  async waitReady(id: string, timeoutMs: number): Promise<Replica> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.stopped) throw new ProviderError('the kubernetes provider is stopped');
      const pod = await this.api.readPod(id);
      if (!pod) throw new ProviderError(`replica ${id} does not exist`);
      const replica = this.toReplica(pod, new Map());
      if (replica.state === 'ready' || replica.state === 'draining') {
        if (this.o.config.expose !== 'service') return replica;
        return this.toReplica(pod, await this.serviceIps());
      }
      if (replica.state === 'failed')
        throw new ProviderError(`replica ${id} failed: ${replica.failure?.reason ?? 'unknown'}`);
      if (Date.now() + this.o.config.pollIntervalMs > deadline)
        throw new TimeoutError(`replica ${id} ready`, timeoutMs);
      await sleep(this.o.config.pollIntervalMs);
    }
  }

  async markDraining(id: string): Promise<void> {
    try {
      await this.api.annotatePod(id, { [DRAINING_ANNOTATION]: 'true' });
    } catch (err) {
      if (kubeErrorStatus(err) === 404) throw new ProviderError(`replica ${id} does not exist`);
      throw err;
    }
  }

  /** Waits until the pod is gone; true if it went within `ms`. */
  private async gone(id: string, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (!(await this.api.readPod(id))) return true;
      await sleep(Math.min(this.o.config.pollIntervalMs, Math.max(10, deadline - Date.now())));
    }
    return !(await this.api.readPod(id));
  }

  async destroy(id: string): Promise<void> {
    const grace = this.o.config.deleteGraceSeconds;
    if (await this.api.deletePod(id, grace)) {
      // The kubelet sends SIGTERM, then SIGKILL after the grace period; allow a margin (1-5 s) more.
      if (!(await this.gone(id, grace * 1000 + Math.min(5000, 1000 + grace * 500)))) {
        this.log.warn({ replica: id, grace }, 'pod still there after its grace period: deleting with 0');
        await this.api.deletePod(id, 0);
        if (!(await this.gone(id, 10_000)))
          throw new ProviderError(`kubernetes: pod ${id} is still there after a forced delete`);
      }
      this.log.info({ replica: id }, 'pod deleted');
    }
    if (this.o.config.expose === 'service') await this.api.deleteService(id);
  }

  async cpu(ids: readonly string[]): Promise<Map<string, number | undefined>> {
    const [pods, metrics] = await Promise.all([
      this.api.listPods(this.selector),
      this.api.listPodMetrics(this.selector),
    ]);
    const out = new Map<string, number | undefined>();
    for (const id of ids) {
      const pod = pods.find((p) => p.metadata?.name === id);
      const m = metrics.find((x) => x.metadata.name === id);
      // metrics-server has no sample for a pod's first ~15-60 s: unknown, not zero.
      out.set(id, pod && m ? cpuFraction(m, podCpuLimit(pod)) : undefined);
    }
    return out;
  }

  /** Stops creating and waiting; every pod stays (a Deployment rollout of the manager keeps the data plane). */
  async close(): Promise<void> {
    this.stopped = true;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const pods = await this.api.listPods(this.selector);
    const results = await Promise.allSettled(pods.map((p) => this.destroy(p.metadata?.name ?? '')));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    await rmdir(this.stateDir).catch(() => undefined);
    if (failures.length > 0)
      throw new ProviderError(
        `stopping left ${failures.length} pod(s): ${failures.map((f) => errorMessage(f.reason)).join('; ')}`,
      );
  }
}

function findTemplateSafe(name: string) {
  try {
    return findTemplate(name);
  } catch {
    return undefined;
  }
}

/** The per-pod ClusterIP Service of a replica (expose: service): same name, same ports. */
export function serviceFor(pod: V1Pod): V1Service {
  const name = pod.metadata?.name ?? '';
  const ports = (pod.spec?.containers?.[0]?.ports ?? []).map((p) => ({
    name: p.name ?? `p${p.containerPort}`,
    port: p.containerPort,
    targetPort: p.containerPort,
    protocol: p.protocol ?? 'TCP',
  }));
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: pod.metadata?.namespace, labels: { ...pod.metadata?.labels } },
    spec: { type: 'ClusterIP', selector: { [LABELS.replica]: name }, ports },
  };
}
