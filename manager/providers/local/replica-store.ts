import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Replica } from '../cloud-provider.ts';

/** What the local provider keeps on disk per replica, so a restarted manager can adopt it. */
export interface ReplicaRecord extends Replica {
  pid: number;
  /** /proc start time of `pid`: guards against PID reuse on adoption. */
  startTime: number;
  dir: string;
  dataDir: string;
  logFile: string;
  /** Claims held in AddressClaims (released on destroy). */
  claims: string[];
  cgroup: boolean;
  bootDelaySeconds: number;
  /** Cores its cgroup has while it boots (provider.local.bootCpuQuota), set back to `cpuQuota` once ready. */
  bootCpuQuota?: number;
  /** Per-replica HTTP probe details rendered by the template (port, headers). */
  probe?: { port?: number; headers?: Record<string, string> };
}

/** One JSON file per replica under `<stateDir>/replicas/`, written atomically (tmp + rename). */
export class ReplicaStore {
  readonly dir: string;
  private writes = 0;
  private readonly chains = new Map<string, Promise<void>>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'replicas');
  }

  replicaDir(id: string): string {
    return join(this.dir, id);
  }

  /** Saves are chained per record, so the file always ends up with the latest state. */
  save(record: ReplicaRecord): Promise<void> {
    const snapshot = JSON.stringify(record, null, 2);
    const previous = this.chains.get(record.id) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        await mkdir(this.dir, { recursive: true, mode: 0o755 });
        const file = join(this.dir, `${record.id}.json`);
        const tmp = `${file}.${process.pid}.${++this.writes}.tmp`;
        await writeFile(tmp, snapshot);
        await rename(tmp, file);
      });
    this.chains.set(record.id, next);
    void next
      .finally(() => {
        if (this.chains.get(record.id) === next) this.chains.delete(record.id);
      })
      .catch(() => undefined);
    return next;
  }

  /** Resolves once the saves of a record under way are done (whatever their outcome). */
  async settled(id: string): Promise<void> {
    await this.chains.get(id)?.catch(() => undefined);
  }

  async remove(id: string): Promise<void> {
    await this.chains.get(id)?.catch(() => undefined);
    await rm(join(this.dir, `${id}.json`), { force: true });
    await rm(this.replicaDir(id), { recursive: true, force: true });
  }

  async loadAll(): Promise<ReplicaRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const records: ReplicaRecord[] = [];
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      try {
        records.push(JSON.parse(await readFile(join(this.dir, name), 'utf8')) as ReplicaRecord);
      } catch {
        // A torn or foreign file: skip it; the tmp+rename write makes torn files unlikely.
      }
    }
    return records;
  }
}

/** The next free sequence number for ids `<deployment>-<b|o><n>` (pure). */
export function nextReplicaId(
  deployment: string,
  level: 'broker' | 'orchestrator',
  taken: Iterable<string>,
): string {
  const prefix = `${deployment}-${level === 'broker' ? 'b' : 'o'}`;
  let max = 0;
  for (const id of taken) {
    if (id.startsWith(prefix)) {
      const n = Number(id.slice(prefix.length));
      if (Number.isInteger(n) && n > max) max = n;
    }
  }
  return `${prefix}${max + 1}`;
}
