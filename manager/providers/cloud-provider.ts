/**
 * The one interface every cloud front-end implements (ARCHITECTURE.md, "Cloud providers"):
 * list the deployment's replicas, create one from a template, destroy one, read each one's CPU as a
 * fraction of its allocation. `local`, `kubernetes` and `opennebula` implement it.
 */

export type Level = 'broker' | 'orchestrator';
export const LEVELS: readonly Level[] = ['broker', 'orchestrator'];

/**
 * booting: created, not yet answering its readiness probe; ready: answering;
 * draining: marked for removal by the manager; failed: exited or never became ready.
 */
export type ReplicaState = 'booting' | 'ready' | 'draining' | 'failed';

export interface ReplicaFailure {
  reason: string;
  exitCode: number | null;
  signal: string | null;
  /** The last lines the replica printed. */
  logTail: string[];
}

export interface Replica {
  id: string;
  level: Level;
  template: string;
  host: string;
  port: number;
  /** `mqtt://host:port` for brokers, `http://host:port` for HTTP-probed replicas. */
  url: string;
  state: ReplicaState;
  /** Cores allocated (the CPU quota), or undefined when unconstrained (counted as one core). */
  cpuQuota: number | undefined;
  createdAt: number;
  readyAt: number | undefined;
  /** Extra ports the replica binds, by name (e.g. amqp, dist, epmd for RabbitMQ). */
  ports: Record<string, number>;
  failure: ReplicaFailure | undefined;
}

export interface CreateOptions {
  /** Fraction of one core (e.g. 0.25); unconstrained when absent. */
  cpuQuota?: number;
  /** Extra seconds before the replica's process starts, to mimic a VM's boot. */
  bootDelaySeconds?: number;
  /** Pin the listener address (and port); chosen by the provider when absent. */
  host?: string;
  port?: number;
  /** Template parameters (validated by the template). */
  params?: Record<string, unknown>;
}

export interface CloudProvider {
  readonly kind: string;
  /** Every replica of this deployment, with its current state. */
  list(): Promise<Replica[]>;
  /** Starts a replica; resolves once it is started (state `booting`), not once it is ready. */
  create(level: Level, template: string, options?: CreateOptions): Promise<Replica>;
  /** Resolves once the replica is ready; rejects if it fails or the time runs out. */
  waitReady(id: string, timeoutMs: number): Promise<Replica>;
  /** Marks a replica draining (the manager is about to remove it). */
  markDraining(id: string): Promise<void>;
  /** Stops the replica (graceful, then forced) and removes everything it had. Idempotent. */
  destroy(id: string): Promise<void>;
  /**
   * Each replica's CPU use since the previous call for it (or since it started), as a fraction of its
   * allocation: 1.0 = its whole quota (or one whole core). Undefined for an unknown or failed replica.
   */
  cpu(ids: readonly string[]): Promise<Map<string, number | undefined>>;
  /** Destroys every replica and releases everything the provider holds (`brokel down`). */
  stop(): Promise<void>;
  /**
   * Lets go of the deployment without touching it: stops polling, releases what this process holds,
   * and leaves every replica running for the next manager to adopt (a manager that stops never stops
   * the data plane: ARCHITECTURE.md, control plane).
   */
  close(): Promise<void>;
}
