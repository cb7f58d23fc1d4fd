import { rmdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, type FieldProblem, ProviderError, TimeoutError } from '../../../common/errors.ts';
import { type Logger, silentLogger } from '../../../common/logger.ts';
import { lookupTemplate, unknownTemplate } from '../../../templates/registry.ts';
import type { CloudProvider, CreateOptions, Level, Replica } from '../cloud-provider.ts';
import {
  type CreateVmRequest,
  deploymentLabels,
  labelQuery,
  parseVm,
  parseVmList,
  type Vm,
  vmToReplica,
} from './rest-api.ts';
import { RestClient, statusOf } from './rest-client.ts';

export interface OpenNebulaProviderOptions {
  deployment: string;
  url: string;
  token: string;
  timeoutMs: number;
  retries: number;
  retryBaseMs: number;
  pollIntervalMs: number;
  /** Where the manager keeps its own files for this deployment (admin token); not used by the provider. */
  stateDir: string;
  logger?: Logger;
  random?: () => number;
}

/** Checks create() arguments the cloud decides itself (pure). */
export function checkRemoteCreate(level: Level, templateName: string, options: CreateOptions): void {
  const problems: FieldProblem[] = [];
  const template = lookupTemplate(templateName);
  if (!template) problems.push(unknownTemplate(templateName, 'template'));
  else if (template.level !== level)
    problems.push({
      path: 'template',
      message: `${templateName} is a template of the ${template.level} level`,
    });
  if (options.host !== undefined || options.port !== undefined)
    problems.push({ path: 'options.host', message: 'not supported: the cloud assigns addresses' });
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * Replicas are VMs of an OpenNebula-like REST front-end (rest-api.ts), such as `brokel cloud serve`.
 * Stateless but for the draining marks: the API has no field for them, so they live here; after a
 * manager restart the orchestrators' reported pools carry them (Topology.reportedPool).
 */
export class OpenNebulaProvider implements CloudProvider {
  readonly kind = 'opennebula';
  readonly stateDir: string;
  private readonly client: RestClient;
  private readonly draining = new Set<string>();
  private readonly log: Logger;
  private stopped = false;

  constructor(private readonly o: OpenNebulaProviderOptions) {
    this.stateDir = o.stateDir;
    this.log = o.logger ?? silentLogger();
    this.client = new RestClient({
      url: o.url,
      token: o.token,
      timeoutMs: o.timeoutMs,
      retries: o.retries,
      retryBaseMs: o.retryBaseMs,
      ...(o.random ? { random: o.random } : {}),
    });
  }

  /** Opens the provider: one list call, so a wrong URL or token fails at start, clearly. */
  static async start(options: OpenNebulaProviderOptions): Promise<OpenNebulaProvider> {
    const provider = new OpenNebulaProvider(options);
    const vms = await provider.listVms();
    provider.log.info({ url: options.url, vms: vms.length }, 'opennebula provider ready');
    return provider;
  }

  private async listVms(): Promise<Vm[]> {
    const path = `/vms${labelQuery(deploymentLabels(this.o.deployment))}`;
    const { json } = await this.client.call('GET', path);
    const vms = parseVmList(json);
    if (!vms) throw new ProviderError(`opennebula: GET ${path} → not a { vms: [...] } answer`);
    return vms;
  }

  /** One VM, or undefined when the cloud does not know it (404). */
  private async showVm(id: string): Promise<Vm | undefined> {
    const path = `/vms/${encodeURIComponent(id)}`;
    try {
      const vm = parseVm((await this.client.call('GET', path)).json);
      if (!vm) throw new ProviderError(`opennebula: GET ${path} → not a VM`);
      return vm;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async list(): Promise<Replica[]> {
    const vms = await this.listVms();
    for (const id of this.draining) if (!vms.some((vm) => vm.id === id)) this.draining.delete(id);
    return vms.map((vm) => vmToReplica(vm, this.draining.has(vm.id)));
  }

  async create(level: Level, template: string, options: CreateOptions = {}): Promise<Replica> {
    if (this.stopped) throw new ProviderError('the opennebula provider is stopped');
    checkRemoteCreate(level, template, options);
    const body: CreateVmRequest = {
      template,
      level,
      labels: {
        ...deploymentLabels(this.o.deployment),
        'brokel.io/level': level,
        'brokel.io/template': template,
      },
      ...(options.cpuQuota === undefined ? {} : { cpu: options.cpuQuota }),
      ...(options.bootDelaySeconds === undefined ? {} : { bootDelaySeconds: options.bootDelaySeconds }),
      ...(options.params === undefined ? {} : { params: options.params }),
    };
    const { json } = await this.client.call('POST', '/vms', body);
    const vm = parseVm(json);
    if (!vm) throw new ProviderError('opennebula: POST /vms → 201 but not a VM');
    this.log.info({ replica: vm.id, template, ip: vm.ip, port: vm.port }, 'replica created');
    return vmToReplica(vm, false);
  }

  async waitReady(id: string, timeoutMs: number): Promise<Replica> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.stopped) throw new ProviderError('the opennebula provider is stopped');
      let vm: Vm | undefined;
      let answered = true;
      try {
        vm = await this.showVm(id);
      } catch (err) {
        // A 4xx is final; a 5xx or no answer (after the client's own retries) may pass: poll on.
        const status = statusOf(err);
        if (status === undefined || (status >= 400 && status < 500)) throw err;
        answered = false;
        this.log.warn({ replica: id, err: (err as Error).message }, 'polling a booting replica failed');
      }
      if (answered && !vm) throw new ProviderError(`replica ${id} does not exist`);
      if (vm) {
        const replica = vmToReplica(vm, this.draining.has(id));
        if (replica.state === 'ready' || replica.state === 'draining') return replica;
        if (replica.state === 'failed')
          throw new ProviderError(`replica ${id} failed: ${replica.failure?.reason ?? 'unknown'}`);
      }
      if (Date.now() + this.o.pollIntervalMs > deadline)
        throw new TimeoutError(`replica ${id} ready`, timeoutMs);
      await sleep(this.o.pollIntervalMs);
    }
  }

  async markDraining(id: string): Promise<void> {
    const vm = (await this.listVms()).find((v) => v.id === id);
    if (!vm) throw new ProviderError(`replica ${id} does not exist`);
    if (vm.state !== 'FAILURE') this.draining.add(id);
  }

  async destroy(id: string): Promise<void> {
    try {
      await this.client.call('DELETE', `/vms/${encodeURIComponent(id)}`);
      this.log.info({ replica: id }, 'replica destroyed');
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
    this.draining.delete(id);
  }

  async cpu(ids: readonly string[]): Promise<Map<string, number | undefined>> {
    const shown = await Promise.all(ids.map(async (id) => [id, await this.showVm(id)] as const));
    return new Map(
      shown.map(([id, vm]) => [id, vm && vm.state !== 'FAILURE' ? (vm.cpu.usage ?? undefined) : undefined]),
    );
  }

  /** Stops creating and waiting; every VM stays for the next manager. */
  async close(): Promise<void> {
    this.stopped = true;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const vms = await this.listVms();
    const results = await Promise.allSettled(vms.map((vm) => this.destroy(vm.id)));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    await rmdir(this.stateDir).catch(() => undefined); // only if empty: the manager's files are gone
    if (failures.length > 0) {
      throw new ProviderError(
        `stopping left ${failures.length} VM(s): ${failures.map((f) => (f.reason as Error).message).join('; ')}`,
      );
    }
  }
}
