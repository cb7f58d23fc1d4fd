import { setTimeout as sleep } from 'node:timers/promises';
import type { CloudProvider, CreateOptions, Level, Replica } from '../../manager/providers/cloud-provider.ts';

/**
 * An in-memory CloudProvider for unit tests of the control loop (STYLE.md: a fake is fine for unit
 * tests; the real providers have their own integration tests). list() and waitReady() can be slowed
 * down, and it records when cpu() ran (once per tick).
 */
export class MemoryProvider implements CloudProvider {
  readonly kind = 'memory';
  readonly stateDir = '/nonexistent';
  readonly replicas = new Map<string, Replica>();
  /** performance.now() of every cpu() call (one per tick). */
  readonly cpuCalls: number[] = [];
  listDelayMs = 0;
  createDelayMs = 0;
  cpuValue = 0.5;
  private seq = 0;

  constructor() {
    // An orchestrator that stays booting: it counts for the level's minimum but is never called
    // over HTTP (only ready orchestrators are), so the broker level can be driven alone.
    void this.create('orchestrator', 'orchestrator');
  }

  async list(): Promise<Replica[]> {
    if (this.listDelayMs > 0) await sleep(this.listDelayMs);
    return [...this.replicas.values()].map((r) => ({ ...r }));
  }

  async create(level: Level, template: string, options: CreateOptions = {}): Promise<Replica> {
    this.seq += 1;
    const id = `${level[0]}${this.seq}`;
    const replica: Replica = {
      id,
      level,
      template,
      host: `127.9.0.${this.seq}`,
      port: 1883,
      url: `mqtt://127.9.0.${this.seq}:1883`,
      state: 'booting',
      cpuQuota: options.cpuQuota,
      createdAt: Date.now(),
      readyAt: undefined,
      ports: {},
      failure: undefined,
    };
    this.replicas.set(id, replica);
    return { ...replica };
  }

  async waitReady(id: string): Promise<Replica> {
    if (this.createDelayMs > 0) await sleep(this.createDelayMs);
    const r = this.replicas.get(id);
    if (!r) throw new Error(`no replica ${id}`);
    r.state = 'ready';
    r.readyAt = Date.now();
    return { ...r };
  }

  async markDraining(id: string): Promise<void> {
    const r = this.replicas.get(id);
    if (r) r.state = 'draining';
  }

  async destroy(id: string): Promise<void> {
    this.replicas.delete(id);
  }

  async cpu(ids: readonly string[]): Promise<Map<string, number | undefined>> {
    this.cpuCalls.push(performance.now());
    return new Map(ids.map((id) => [id, this.replicas.has(id) ? this.cpuValue : undefined]));
  }

  async stop(): Promise<void> {
    this.replicas.clear();
  }

  async close(): Promise<void> {}
}
