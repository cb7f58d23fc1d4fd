import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { localProviderSchema } from '../../common/config/schema.ts';
import { silentLogger } from '../../common/logger.ts';
import type { Level } from '../../manager/providers/cloud-provider.ts';
import { freePort } from '../../manager/providers/local/address-pool.ts';
import { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import { type CloudServer, startCloudServer } from '../../manager/providers/local/rest-server.ts';
import { RelayedProvider } from './relayed-provider.ts';

const BIN = fileURLToPath(new URL('../../bin/brokel.js', import.meta.url));

export interface DeploymentOptions {
  dir: string;
  deployment: string;
  brokers: { min: number; max: number; cpuQuota: number };
  orchestrators: { min: number; max: number };
  intervalSeconds: number;
}

export interface StatusReplica {
  id: string;
  state: string;
}

/**
 * The chaos run's system: the local provider in this process, wrapped so every broker sits behind a
 * fault relay, served through the cloud REST API (`brokel cloud serve`'s server) to a real `brokel up`
 * process (provider `opennebula` pointing here). The manager is a child process the run can SIGKILL
 * and restart; the replicas belong to this process, so the run has their PIDs.
 */
export class ChaosDeployment {
  manager: ChildProcess | undefined;
  managerStarts = 0;
  private closed = false;
  private restarting: Promise<void> | undefined;
  private constructor(
    readonly options: DeploymentOptions,
    readonly local: LocalProvider,
    readonly provider: RelayedProvider,
    private readonly cloud: CloudServer,
    readonly configFile: string,
    readonly apiPort: number,
    readonly dnsServer: string,
  ) {}

  static async start(o: DeploymentOptions): Promise<ChaosDeployment> {
    const local = await LocalProvider.start({
      deployment: o.deployment,
      config: localProviderSchema.parse({ stateDir: join(o.dir, 'state') }),
      pollIntervalMs: 100,
    });
    // Every replica's log outlives it, in <dir>/replica-logs/ (the provider removes a destroyed one's folder).
    const logs = join(o.dir, 'replica-logs');
    await mkdir(logs, { recursive: true });
    const provider = new RelayedProvider(local, (id) =>
      copyFile(join(local.stateDir, 'replicas', id, 'replica.log'), join(logs, `${id}.log`)),
    );
    const token = randomBytes(16).toString('hex');
    const cloud = await startCloudServer({
      provider,
      host: '127.0.0.1',
      port: 0,
      token,
      log: silentLogger(),
    });
    const apiPort = await freePort('127.0.0.1');
    const dnsPort = await freePort('127.0.0.1');
    const configFile = join(o.dir, 'brokel.yaml');
    await writeFile(
      configFile,
      [
        `deployment: ${o.deployment}`,
        `manager: { decisionLog: ${join(o.dir, 'decisions.jsonl')}, adminToken: ${randomBytes(16).toString('hex')} }`,
        `monitor: { intervalSeconds: ${o.intervalSeconds}, warmupObservations: 2 }`,
        'levels:',
        `  brokers: { min: ${o.brokers.min}, max: ${o.brokers.max}, cpuQuota: ${o.brokers.cpuQuota} }`,
        `  orchestrators: { min: ${o.orchestrators.min}, max: ${o.orchestrators.max} }`,
        `sla: { maxReplicas: ${o.brokers.max + o.orchestrators.max} }`,
        `api: { listen: 127.0.0.1:${apiPort} }`,
        `dns: { listen: 127.0.0.1:${dnsPort}, ttlSeconds: 1 }`,
        'provider:',
        '  kind: opennebula',
        `  opennebula: { url: http://127.0.0.1:${cloud.port}, token: ${token}, pollIntervalMs: 200 }`,
        '',
      ].join('\n'),
    );
    return new ChaosDeployment(o, local, provider, cloud, configFile, apiPort, `127.0.0.1:${dnsPort}`);
  }

  /**
   * Starts `brokel up` and resolves once it printed where clients connect. The budget is above the
   * manager's own action timeout (180 s): a restart while a broker is SIGSTOPped waits on that broker's
   * action before it prints (seed 2 at load 16 took over 90 s).
   */
  async startManager(timeoutMs = 240_000): Promise<void> {
    this.managerStarts += 1;
    const log = createWriteStream(join(this.options.dir, `manager-${this.managerStarts}.log`));
    const child = spawn(process.execPath, [BIN, 'up', '-c', this.configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BROKEL_LOG_LEVEL: 'warn' },
    });
    this.manager = child;
    child.stderr?.pipe(log);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('brokel up: not up in time')), timeoutMs);
      lines.on('line', (line) => {
        log.write(`${line}\n`);
        if (line.startsWith('Ctrl-C ')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`brokel up exited with ${code} (see ${log.path})`));
      });
    });
  }

  /** Starts the manager again without waiting for it (faults go on while it boots). */
  restartInBackground(): void {
    const restart = this.startManager();
    this.restarting = restart;
    restart.catch(() => undefined);
  }

  /** Resolves once a restart begun by restartInBackground is up; rejects if it failed (once: it is then forgotten). */
  async managerRestarted(): Promise<void> {
    const restarting = this.restarting;
    try {
      await restarting;
    } finally {
      if (this.restarting === restarting) this.restarting = undefined;
    }
  }

  /** SIGKILL (the chaos fault) or SIGTERM (the end); resolves once it exited. */
  async stopManager(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const child = this.manager;
    this.manager = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    // The grace timer is cleared: left running, it kept the chaos test's process alive 30 s after its end.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 30_000)))]);
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  /** The manager's view: every replica its status API lists. */
  async status(): Promise<StatusReplica[]> {
    const res = await fetch(`http://127.0.0.1:${this.apiPort}/api/status`, {
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as { levels: Array<{ replicas: StatusReplica[] }> };
    return body.levels.flatMap((l) => l.replicas);
  }

  /** Ready replicas of a level, sorted by id. */
  async ready(level: Level): Promise<Array<{ id: string; host: string }>> {
    return (await this.local.list())
      .filter((r) => r.level === level && r.state === 'ready')
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The PID the local provider recorded for a replica. */
  async pidOf(id: string): Promise<number> {
    const file = join(this.local.stateDir, 'replicas', `${id}.json`);
    return (JSON.parse(await readFile(file, 'utf8')) as { pid: number }).pid;
  }

  /** Waits until the levels have at least their min replicas ready. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const { brokers, orchestrators } = this.options;
    while (Date.now() < deadline) {
      const b = (await this.ready('broker')).length;
      const o = (await this.ready('orchestrator')).length;
      const active = await this.status().catch(() => []);
      if (b >= brokers.min && o >= orchestrators.min && active.length >= brokers.min + orchestrators.min)
        return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`the deployment was not ready in ${timeoutMs} ms`);
  }

  /** Stops the manager, destroys every replica, closes the relays and the cloud API. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.restarting?.catch(() => undefined);
    await this.stopManager('SIGTERM');
    await this.provider.stop();
    await this.cloud.close();
    // The empty state folder `brokel up` makes for the deployment (its opennebula provider's).
    await rmdir(join(tmpdir(), 'brokel', this.options.deployment)).catch(() => undefined);
  }
}
