import { EventEmitter } from 'node:events';
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { LocalProviderConfig } from '../../../common/config/schema.ts';
import { ConfigError, errorMessage, ProviderError, TimeoutError } from '../../../common/errors.ts';
import { type Logger, silentLogger } from '../../../common/logger.ts';
import { findTemplate, lookupTemplate } from '../../../templates/registry.ts';
import type { ReplicaTemplate, TemplateUser } from '../../../templates/template.ts';
import type { CloudProvider, CreateOptions, Level, Replica, ReplicaFailure } from '../cloud-provider.ts';
import { AddressClaims, aliasAddress, freePort, tryBind } from './address-pool.ts';
import { type CgroupSupport, CgroupV1 } from './cgroup.ts';
import { CpuMeter } from './cpu-meter.ts';
import { checkCreateOptions } from './create-options.ts';
import {
  clockTicksPerSecond,
  groupMembers,
  isSameProcessAlive,
  pidStillNames,
  readProcStat,
} from './proc-stat.ts';
import { probeOnce } from './readiness.ts';
import { killGroup, spawnReplica, stopGroup, tailFile } from './replica-process.ts';
import { nextReplicaId, type ReplicaRecord, ReplicaStore } from './replica-store.ts';

export interface LocalProviderOptions {
  deployment: string;
  config: LocalProviderConfig;
  users?: readonly TemplateUser[];
  logger?: Logger;
  cgroupRoot?: string;
  claims?: AddressClaims;
  /** Readiness and liveness polling period. */
  pollIntervalMs?: number;
}

function toReplica(r: ReplicaRecord): Replica {
  const { id, level, template, host, port, url, state, cpuQuota, createdAt, readyAt, ports, failure } = r;
  return { id, level, template, host, port, url, state, cpuQuota, createdAt, readyAt, ports, failure };
}

/**
 * The embedded default cloud: each replica is a process group on this machine with its own loopback
 * address (or port), an optional cgroup CPU quota (a VM's size) and an optional boot delay. State is
 * kept on disk, so a manager killed with SIGKILL adopts its replicas when it starts again.
 */
export class LocalProvider extends EventEmitter implements CloudProvider {
  readonly kind = 'local';
  readonly stateDir: string;
  private readonly records = new Map<string, ReplicaRecord>();
  private readonly children = new Set<string>();
  private readonly stopping = new Set<string>();
  private readonly reserved = new Set<string>();
  private readonly meter = new CpuMeter();
  private readonly store: ReplicaStore;
  private readonly cgroup: CgroupV1;
  private readonly claims: AddressClaims;
  /** Claims of destroyed replicas kept for the next create on their address (destroy's keepAddress). */
  private readonly keptClaims = new Set<string>();
  private readonly log: Logger;
  private support: CgroupSupport = { cpu: false, cpuacct: false, reason: 'not probed' };
  private warnedNoCgroup = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private stopped = false;
  private ending: Promise<void> | undefined;

  private constructor(private readonly options: LocalProviderOptions) {
    super();
    this.stateDir = options.config.stateDir ?? join(tmpdir(), 'brokel', options.deployment);
    this.store = new ReplicaStore(this.stateDir);
    this.cgroup = new CgroupV1(options.cgroupRoot);
    this.claims = options.claims ?? new AddressClaims();
    this.log = options.logger ?? silentLogger();
  }

  /** Opens the provider: probes cgroup support, adopts the replicas a previous run left, starts polling. */
  static async start(options: LocalProviderOptions): Promise<LocalProvider> {
    const provider = new LocalProvider(options);
    await mkdir(provider.stateDir, { recursive: true, mode: 0o755 });
    provider.support = await provider.cgroup.detect();
    await provider.adopt();
    const interval = options.pollIntervalMs ?? 150;
    provider.timer = setInterval(() => void provider.tick(), interval);
    provider.timer.unref();
    return provider;
  }

  async list(): Promise<Replica[]> {
    return [...this.records.values()].map(toReplica);
  }

  async create(level: Level, templateName: string, options: CreateOptions = {}): Promise<Replica> {
    if (this.stopped) throw new ProviderError('the local provider is stopped');
    const template = lookupTemplate(templateName);
    checkCreateOptions(level, template, templateName, options, availableParallelism());
    if (!template) throw new Error('unreachable: template checked above');
    const id = nextReplicaId(this.options.deployment, level, [...this.records.keys(), ...this.reserved]);
    this.reserved.add(id);
    const claims: string[] = [];
    const dir = this.store.replicaDir(id);
    let cgroupMade = false;
    try {
      const { host, port } = await this.allocateAddress(template, options, claims);
      const dataDir = join(dir, 'data');
      await mkdir(dataDir, { recursive: true, mode: 0o755 });
      const spec = await template.render({
        replicaId: id,
        host,
        port,
        dataDir,
        addressing: this.options.config.addressing,
        users: this.options.users ?? [],
        params: options.params ?? {},
        freePort,
      });
      const cpuQuota = options.cpuQuota;
      if (cpuQuota !== undefined && !this.support.cpu && !this.warnedNoCgroup) {
        this.warnedNoCgroup = true;
        this.log.warn(
          { reason: this.support.reason },
          'no cgroup v1 cpu controller: replicas run without a CPU quota',
        );
      }
      const bootCpuQuota = this.bootQuota(cpuQuota);
      const cgroupProcs = await this.cgroup.create(id, bootCpuQuota ?? cpuQuota, this.support);
      cgroupMade = cgroupProcs.length > 0;
      const bootDelaySeconds = options.bootDelaySeconds ?? this.options.config.bootDelaySeconds;
      const logFile = join(dir, 'replica.log');
      // No CPU used yet (a fresh cgroup, no process): the meter's baseline is this instant.
      const spawnedAt = performance.now();
      const spawned = await spawnReplica(spec, { logFile, cwd: dataDir, cgroupProcs, bootDelaySeconds });
      const now = Date.now();
      // Brokers and orchestrators are both MQTT endpoints; an orchestrator's admin port is in `ports`.
      // A broker with a TLS listener (brokers.tls) is reached there, as mqtts:// (issue 17).
      const scheme = spec.tlsPort === undefined ? 'mqtt' : 'mqtts';
      const urlPort = spec.tlsPort ?? port;
      const record: ReplicaRecord = {
        id,
        level,
        template: template.name,
        host,
        port,
        url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${urlPort}`,
        state: 'booting',
        cpuQuota,
        createdAt: now,
        readyAt: undefined,
        ports: spec.ports ?? {},
        failure: undefined,
        pid: spawned.pid,
        startTime: spawned.startTime,
        dir,
        dataDir,
        logFile,
        claims,
        cgroup: this.support.cpuacct,
        bootDelaySeconds,
        ...(bootCpuQuota === undefined ? {} : { bootCpuQuota }),
        ...(spec.probe ? { probe: spec.probe } : {}),
      };
      this.records.set(id, record);
      this.children.add(id);
      this.meter.baseline(id, 0, spawnedAt);
      // The replica as started (booting): the poller may mark it ready while the record is saved.
      const started = toReplica(record);
      await this.store.save(record);
      void spawned.exited.then((exit) => this.onChildExit(id, exit.exitCode, exit.signal));
      this.log.info(
        { replica: id, template: template.name, host, port, cpuQuota, pid: spawned.pid },
        'replica created',
      );
      this.emit('change', started);
      return started;
    } catch (err) {
      if (cgroupMade) await this.cgroup.remove(id).catch(() => undefined);
      for (const key of claims) await this.claims.release(key);
      await rm(dir, { recursive: true, force: true });
      if (err instanceof ConfigError || err instanceof ProviderError) throw err;
      throw new ProviderError(`creating a ${templateName} replica failed: ${errorMessage(err)}`, {
        cause: err,
      });
    } finally {
      this.reserved.delete(id);
    }
  }

  /** Local-only details of a replica (its main PID and folders), for diagnostics and tests. */
  details(id: string): Pick<ReplicaRecord, 'pid' | 'dir' | 'dataDir' | 'logFile'> | undefined {
    const r = this.records.get(id);
    return r && { pid: r.pid, dir: r.dir, dataDir: r.dataDir, logFile: r.logFile };
  }

  async waitReady(id: string, timeoutMs: number): Promise<Replica> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const record = this.records.get(id);
        if (!record) {
          finish(new ProviderError(`replica ${id} does not exist`));
        } else if (record.state === 'ready' || record.state === 'draining') {
          finish(undefined, toReplica(record));
        } else if (record.state === 'failed') {
          finish(new ProviderError(`replica ${id} failed: ${failureText(record.failure)}`));
        } else {
          return false;
        }
        return true;
      };
      const onChange = (): void => void check();
      const finish = (err: Error | undefined, replica?: Replica): void => {
        clearTimeout(timer);
        this.off('change', onChange);
        if (err) reject(err);
        else if (replica) resolve(replica);
      };
      const timer = setTimeout(() => finish(new TimeoutError(`replica ${id} ready`, timeoutMs)), timeoutMs);
      this.on('change', onChange);
      check();
    });
  }

  async markDraining(id: string): Promise<void> {
    const record = this.records.get(id);
    if (!record) throw new ProviderError(`replica ${id} does not exist`);
    if (record.state === 'failed') return;
    record.state = 'draining';
    await this.store.save(record);
    this.emit('change', toReplica(record));
  }

  /**
   * Stops a replica and forgets it. `keepAddress`: its address claim stays with this provider, so a
   * replica created next with `host` set to that address gets it back: between the two, another
   * provider on the machine cannot take it (the address pool's claims are machine-wide).
   */
  async destroy(id: string, options: { keepAddress?: boolean } = {}): Promise<void> {
    const record = this.records.get(id);
    if (!record) return;
    this.stopping.add(id);
    try {
      if (!pidStillNames(record.pid, record.startTime)) {
        this.log.warn({ replica: id, pid: record.pid }, 'its PID now names another process: not signalled');
      } else if (isSameProcessAlive(record.pid, record.startTime) || groupMembers(record.pid).length > 0) {
        const { forced } = await stopGroup(record.pid, this.options.config.stopTimeoutMs);
        if (forced) this.log.warn({ replica: id }, 'replica did not stop on SIGTERM: killed');
      }
      if (record.cgroup || (await this.cgroup.exists(id))) {
        // Processes that left the group (Erlang's erl_child_setup and port programs call setsid)
        // are still in the replica's cgroup: none outlives it.
        await this.killCgroupMembers(id);
        await this.cgroup.remove(id);
      }
      for (const key of record.claims) {
        if (options.keepAddress) this.keptClaims.add(key);
        else await this.claims.release(key);
      }
      await this.store.remove(id);
      this.records.delete(id);
      this.children.delete(id);
      this.meter.forget(id);
      this.log.info({ replica: id }, 'replica destroyed');
      this.emit('change', { ...toReplica(record), state: 'failed' });
    } finally {
      this.stopping.delete(id);
    }
  }

  private async killCgroupMembers(id: string): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const pids = (await this.cgroup.pids(id)).filter((pid) => readProcStat(pid)?.state !== 'Z');
      if (pids.length === 0) return;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * CPU used per replica since its own previous reading, divided by the time that really passed
   * between those two readings (ARCHITECTURE.md, control plane): each counter is read synchronously and
   * stamped on the monotonic clock at once, so a busy event loop cannot put time between the two.
   */
  async cpu(ids: readonly string[]): Promise<Map<string, number | undefined>> {
    const out = new Map<string, number | undefined>();
    for (const id of ids) {
      const record = this.records.get(id);
      if (!record || record.state === 'failed') {
        out.set(id, undefined);
        continue;
      }
      const usage = this.usageSeconds(record);
      const at = performance.now();
      out.set(id, usage === undefined ? undefined : this.meter.sample(id, usage, at, record.cpuQuota ?? 1));
    }
    return out;
  }

  /** Cumulative CPU seconds of the replica's whole process tree: cpuacct, else its process group in /proc. */
  private usageSeconds(record: ReplicaRecord): number | undefined {
    if (record.cgroup) {
      const usage = this.cgroup.usageSecondsNow(record.id);
      if (usage !== undefined) return usage;
    }
    const members = groupMembers(record.pid);
    return members.reduce((sum, p) => sum + p.cpuTicks, 0) / clockTicksPerSecond();
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    // Saves under way finish, so the next manager reads every replica's latest state.
    await Promise.all([...this.records.values()].map((r) => this.store.settled(r.id)));
  }

  /**
   * Destroys every replica and removes the deployment's state and cgroups. A second call (a bench's
   * signal handler while its `finally` stops the provider) waits for the first; after close(), nothing
   * (the replicas stay for the next manager).
   */
  stop(): Promise<void> {
    if (this.ending) return this.ending;
    if (this.stopped) return Promise.resolve();
    this.stopped = true;
    this.ending = this.destroyAll();
    return this.ending;
  }

  private async destroyAll(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const results = await Promise.allSettled([...this.records.keys()].map((id) => this.destroy(id)));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const key of this.keptClaims) await this.claims.release(key);
    this.keptClaims.clear();
    await rm(join(this.stateDir, 'replicas'), { recursive: true, force: true });
    await rmdir(this.stateDir).catch(() => undefined);
    if (this.options.config.stateDir === undefined)
      await rmdir(dirname(this.stateDir)).catch(() => undefined);
    await this.cgroup.removeParentIfEmpty();
    if (failures.length > 0) {
      throw new ProviderError(
        `stopping left ${failures.length} replica(s): ${failures.map((f) => errorMessage(f.reason)).join('; ')}`,
      );
    }
  }

  private async allocateAddress(
    template: ReplicaTemplate,
    options: CreateOptions,
    claims: string[],
  ): Promise<{ host: string; port: number }> {
    const addressing = this.options.config.addressing;
    if (options.host !== undefined) {
      const port = options.port ?? (addressing === 'aliases' ? template.standardPort : 0);
      if (addressing === 'aliases' && options.host.startsWith(`${this.options.config.addressBlock}.`)) {
        // An address of the pool is claimed like one it hands out, so no other provider takes it.
        const kept = this.keptClaims.delete(options.host);
        if (!kept && !(await this.claims.claim(options.host))) {
          throw new ConfigError([
            {
              path: 'options.host',
              message: `${options.host} is claimed by a replica (of this or another provider on this machine)`,
            },
          ]);
        }
        claims.push(options.host);
      }
      try {
        return { host: options.host, port: await tryBind(options.host, port) };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const what =
          code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${code ?? errorMessage(err)})`;
        throw new ConfigError([{ path: 'options.host', message: `${options.host}:${port} ${what}` }]);
      }
    }
    if (addressing === 'ports') {
      return { host: '127.0.0.1', port: options.port ?? (await freePort('127.0.0.1')) };
    }
    for (let index = 0; index < 254 * 256; index++) {
      const host = aliasAddress(this.options.config.addressBlock, index);
      if (!(await this.claims.claim(host))) continue;
      try {
        await tryBind(host, template.standardPort);
        claims.push(host);
        return { host, port: template.standardPort };
      } catch {
        await this.claims.release(host);
      }
    }
    throw new ProviderError(`no free address left in ${this.options.config.addressBlock}.0.0/16`);
  }

  private async onChildExit(id: string, exitCode: number | null, signal: string | null): Promise<void> {
    const record = this.records.get(id);
    if (!record || this.stopping.has(id)) return;
    // whatever the main process left behind (an epmd, a child); never a reused PID
    if (pidStillNames(record.pid, record.startTime)) killGroup(record.pid);
    await this.fail(record, `exited unexpectedly (code ${exitCode}, signal ${signal})`, exitCode, signal);
  }

  private async fail(record: ReplicaRecord, reason: string, exitCode: number | null, signal: string | null) {
    if (record.state === 'failed') return;
    const failure: ReplicaFailure = { reason, exitCode, signal, logTail: await tailFile(record.logFile, 20) };
    record.state = 'failed';
    record.failure = failure;
    await this.store.save(record).catch(() => undefined);
    this.log.error({ replica: record.id, ...failure }, 'replica failed');
    this.emit('change', toReplica(record));
  }

  /** One polling round: probe booting replicas, watch adopted ones (not our children) for exit. */
  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      await Promise.all(
        [...this.records.values()].map(async (record) => {
          if (record.state === 'failed' || this.stopping.has(record.id)) return;
          if (!this.children.has(record.id) && !isSameProcessAlive(record.pid, record.startTime)) {
            await this.fail(record, 'process gone (adopted replica: exit code unknown)', null, null);
            return;
          }
          if (record.state !== 'booting') return;
          await this.probeBooting(record);
        }),
      );
    } finally {
      this.ticking = false;
    }
  }

  private async probeBooting(record: ReplicaRecord): Promise<void> {
    const template = findTemplate(record.template);
    const delayMs = record.bootDelaySeconds * 1000;
    const deadline =
      record.createdAt + delayMs + Math.max(template.bootTimeoutMs, this.options.config.bootTimeoutMs);
    if (await probeOnce(template.probe, record.host, record.port, 1000, record.probe)) {
      if (record.state !== 'booting') return;
      // Persist first, then publish: whoever sees `ready` (waitReady, list) may rely on a restarted
      // manager adopting the replica as ready too.
      const readyAt = Date.now();
      await this.store.save({ ...record, state: 'ready', readyAt });
      if (record.state !== 'booting') return;
      record.state = 'ready';
      record.readyAt = readyAt;
      await this.endBootBoost(record);
      this.log.info({ replica: record.id, bootMs: readyAt - record.createdAt }, 'replica ready');
      this.emit('change', toReplica(record));
    } else if (Date.now() > deadline) {
      if (pidStillNames(record.pid, record.startTime)) killGroup(record.pid);
      await this.fail(record, `not ready within ${deadline - record.createdAt} ms`, null, null);
    }
  }

  /**
   * The boot boost's quota for a new replica of `cpuQuota` cores: provider.local.bootCpuQuota (at most
   * this machine's cores) when it is above `cpuQuota`; none otherwise (no quota: unconstrained anyway).
   */
  private bootQuota(cpuQuota: number | undefined): number | undefined {
    const boost = this.options.config.bootCpuQuota;
    if (boost === undefined || cpuQuota === undefined || !this.support.cpu) return undefined;
    const capped = Math.min(boost, availableParallelism());
    return capped > cpuQuota ? capped : undefined;
  }

  /**
   * A boosted replica that is ready gets its own quota back, and its CPU meter restarts now: the boot's
   * CPU, used at the boost's quota, must not read as load on the replica's own quota (it would read
   * above 1 and could add a replica nobody needs). Idempotent (adoption calls it again).
   */
  private async endBootBoost(record: ReplicaRecord): Promise<void> {
    if (record.bootCpuQuota === undefined || record.cpuQuota === undefined) return;
    try {
      await this.cgroup.setQuota(record.id, record.cpuQuota);
    } catch (err) {
      this.log.warn({ replica: record.id, err: errorMessage(err) }, 'boot boost: quota not restored');
      return;
    }
    this.meter.baseline(record.id, this.usageSeconds(record) ?? 0, performance.now());
    this.log.info(
      { replica: record.id, bootCpuQuota: record.bootCpuQuota, cpuQuota: record.cpuQuota },
      'boot boost ended',
    );
  }

  /** Takes over the replicas a previous run of this deployment left on this machine. */
  private async adopt(): Promise<void> {
    for (const record of await this.store.loadAll()) {
      this.records.set(record.id, record);
      if (isSameProcessAlive(record.pid, record.startTime)) {
        for (const key of record.claims) await this.claims.adopt(key);
        const usage = this.usageSeconds(record);
        this.meter.baseline(record.id, usage ?? 0, performance.now());
        // A manager that stopped between a boosted replica's `ready` and the quota's restore.
        if (record.state !== 'booting') await this.endBootBoost(record);
        this.log.info({ replica: record.id, state: record.state }, 'replica adopted');
      } else if (record.state !== 'failed') {
        await this.fail(record, 'gone while no manager was watching (exit code unknown)', null, null);
      }
    }
  }
}

/** A failure for an error message: its reason, then the replica's last log lines (why it did not boot). */
function failureText(failure: ReplicaFailure | undefined): string {
  if (!failure) return 'unknown';
  const tail = failure.logTail.slice(-5).join(' | ');
  return tail === '' ? failure.reason : `${failure.reason}; its last log lines: ${tail}`;
}
