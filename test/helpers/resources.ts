import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { TestContext } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { LocalProviderConfig } from '../../common/config/schema.ts';
import { LocalProvider, type LocalProviderOptions } from '../../manager/providers/local/local-provider.ts';
import { listProcStats, readProcStat } from '../../manager/providers/local/proc-stat.ts';

let counter = 0;

/** A deployment name no other test (or test process) uses. */
export function uniqueDeployment(prefix = 't'): string {
  counter += 1;
  return `${prefix}${process.pid}x${counter}`;
}

export function localConfig(overrides: Partial<LocalProviderConfig> = {}): LocalProviderConfig {
  return {
    addressing: 'aliases',
    addressBlock: '127.42',
    bootDelaySeconds: 0,
    stopTimeoutMs: 10_000,
    bootTimeoutMs: 60_000,
    ...overrides,
  };
}

/** A local provider whose stop() is registered for teardown. */
export async function startProvider(
  t: TestContext,
  overrides: Partial<LocalProviderConfig> = {},
  extra: Partial<LocalProviderOptions> = {},
): Promise<LocalProvider> {
  const provider = await LocalProvider.start({
    deployment: uniqueDeployment(),
    config: localConfig(overrides),
    pollIntervalMs: 50,
    ...extra,
  });
  t.after(() => provider.stop());
  return provider;
}

/** An MQTT.js client connected (or rejected), ended at teardown. */
export async function connectClient(
  t: TestContext,
  url: string,
  options: IClientOptions = {},
  beforeConnect?: (client: MqttClient) => void,
): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  // Listeners that must see packets arriving with the CONNACK (a persistent session's backlog).
  beforeConnect?.(client);
  t.after(() => new Promise<void>((resolve) => client.end(true, {}, () => resolve())));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error(`connection to ${url} closed before CONNACK`)));
  });
  return client;
}

/** Settles as `promise` does, or rejects after timeoutMs naming `what`: every wait in a test is bounded. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when predicate() holds, polling; rejects after timeoutMs with `what`. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Blocks the event loop for `ms`, as a storm does: timers fall due and bytes arrive unread meanwhile
 * (tests of timeouts that must look at what was read first).
 */
export function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // blocked
  }
}

/** PIDs of live processes in the tree rooted at `root` (by parent links), root included. */
export function processTree(root: number): number[] {
  const stats = listProcStats().filter((s) => s.state !== 'Z');
  const out = new Set<number>(stats.some((s) => s.pid === root) ? [root] : []);
  let grew = true;
  while (grew) {
    grew = false;
    for (const s of stats) {
      if (out.has(s.ppid) && !out.has(s.pid)) {
        out.add(s.pid);
        grew = true;
      }
    }
  }
  return [...out];
}

/** True while pid runs (a zombie waiting for its reaper is not running). */
export function pidAlive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/**
 * Processes whose command line or working directory mentions `fragment` (e.g. `/brokel/<deployment>-`):
 * brokers name their config file on the command line; orchestrators (`node bin/brokel.js orchestrator`)
 * do not, but every local replica runs in its data folder under the deployment's state folder.
 */
export function processesOf(fragment: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${pid}/cwd`);
      } catch {
        // not ours to read, or gone
      }
      if (cmd.includes(fragment) || cwd.includes(fragment)) out.push(`${pid} ${cmd} (in ${cwd})`);
    } catch {
      // gone
    }
  }
  return out;
}

/** cgroup folders left for a deployment's replicas (should be none after stop). */
export function leftoverCgroups(deployment: string): string[] {
  const out: string[] = [];
  for (const controller of ['cpu', 'cpuacct']) {
    const dir = `/sys/fs/cgroup/${controller}/brokel`;
    if (!existsSync(dir)) continue;
    out.push(
      ...readdirSync(dir)
        .filter((name) => name.startsWith(`${deployment}-`))
        .map((n) => `${controller}/${n}`),
    );
  }
  return out;
}
