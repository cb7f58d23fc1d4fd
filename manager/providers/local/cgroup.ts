import { readFileSync } from 'node:fs';
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../../../common/errors.ts';

export const CFS_PERIOD_US = 100_000;

/** cfs_quota_us for a quota in cores (pure): 0.25 → 25000 at the 100 ms period; at least 1 ms. */
export function quotaMicros(cores: number, periodUs = CFS_PERIOD_US): number {
  return Math.max(1000, Math.round(cores * periodUs));
}

export interface CgroupSupport {
  cpu: boolean;
  cpuacct: boolean;
  reason: string | undefined;
}

/**
 * cgroup v1 groups for replicas: `<root>/cpu/brokel/<name>` carries the CPU quota (a VM's size),
 * `<root>/cpuacct/brokel/<name>` counts the CPU of every process in it (the replica's whole tree).
 * A replica process joins by writing its own PID to the `cgroup.procs` files before it execs.
 */
export class CgroupV1 {
  constructor(
    readonly root = '/sys/fs/cgroup',
    readonly parent = 'brokel',
  ) {}

  private dir(controller: 'cpu' | 'cpuacct', name?: string): string {
    return name === undefined
      ? join(this.root, controller, this.parent)
      : join(this.root, controller, this.parent, name);
  }

  /** Probes by creating the parent groups (needs root and a writable v1 hierarchy). */
  async detect(): Promise<CgroupSupport> {
    const probe = async (controller: 'cpu' | 'cpuacct'): Promise<string | undefined> => {
      const base = join(this.root, controller);
      try {
        await access(join(base, 'cgroup.procs'));
        await mkdir(this.dir(controller), { recursive: true });
        return undefined;
      } catch (err) {
        return `${base}: ${errorMessage(err)}`;
      }
    };
    const [cpuErr, acctErr] = await Promise.all([probe('cpu'), probe('cpuacct')]);
    return { cpu: !cpuErr, cpuacct: !acctErr, reason: cpuErr ?? acctErr };
  }

  /** Creates the replica's groups; returns the cgroup.procs files the replica must join. */
  async create(name: string, quotaCores: number | undefined, support: CgroupSupport): Promise<string[]> {
    const procs: string[] = [];
    if (support.cpu && quotaCores !== undefined) {
      const dir = this.dir('cpu', name);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'cpu.cfs_period_us'), String(CFS_PERIOD_US));
      await writeFile(join(dir, 'cpu.cfs_quota_us'), String(quotaMicros(quotaCores)));
      procs.push(join(dir, 'cgroup.procs'));
    }
    if (support.cpuacct) {
      const dir = this.dir('cpuacct', name);
      await mkdir(dir, { recursive: true });
      procs.push(join(dir, 'cgroup.procs'));
    }
    return procs;
  }

  /** Changes the quota of an existing group (a boot boost ending); false when the group has no cpu controller. */
  async setQuota(name: string, quotaCores: number): Promise<boolean> {
    try {
      await writeFile(join(this.dir('cpu', name), 'cpu.cfs_quota_us'), String(quotaMicros(quotaCores)));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Total CPU of every process that was ever in the group, in seconds; undefined without cpuacct. */
  async usageSeconds(name: string): Promise<number | undefined> {
    return this.usageSecondsNow(name);
  }

  /**
   * The same, read synchronously (a few bytes of cgroupfs): whoever takes the time right after it gets
   * the instant the counter was read, with no event-loop turn in between (see LocalProvider.cpu).
   */
  usageSecondsNow(name: string): number | undefined {
    try {
      return Number(readFileSync(join(this.dir('cpuacct', name), 'cpuacct.usage'), 'utf8')) / 1e9;
    } catch {
      return undefined;
    }
  }

  /** PIDs in the replica's groups: its whole tree, including processes that left its process group. */
  async pids(name: string): Promise<number[]> {
    const out = new Set<number>();
    for (const controller of ['cpu', 'cpuacct'] as const) {
      try {
        const text = await readFile(join(this.dir(controller, name), 'cgroup.procs'), 'utf8');
        for (const line of text.split('\n')) if (line.trim() !== '') out.add(Number(line));
      } catch {}
    }
    return [...out];
  }

  async exists(name: string): Promise<boolean> {
    for (const controller of ['cpu', 'cpuacct'] as const) {
      try {
        await access(this.dir(controller, name));
        return true;
      } catch {}
    }
    return false;
  }

  /** Removes the replica's groups; they must be empty, so it retries briefly while the kernel reaps. */
  async remove(name: string): Promise<void> {
    for (const controller of ['cpu', 'cpuacct'] as const) {
      const dir = this.dir(controller, name);
      for (let attempt = 0; ; attempt++) {
        try {
          await rmdir(dir);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (code !== 'EBUSY' || attempt >= 250) throw err;
          await sleep(20);
        }
      }
    }
  }

  /** Removes the shared parent groups when no replica group is left in them. */
  async removeParentIfEmpty(): Promise<void> {
    for (const controller of ['cpu', 'cpuacct'] as const) {
      await rmdir(this.dir(controller)).catch(() => undefined);
    }
  }
}
