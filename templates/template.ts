/**
 * The contract every replica template fulfils: what the local provider needs to start one replica
 * (config files rendered into its private data dir, then one command), how to tell it is ready,
 * and where the cloud-side descriptions (Kubernetes pod manifest, OpenNebula-style VM template) live.
 * A template imports nothing from the rest of the project but this file and common/ helpers.
 */

export type ProtocolVersion = 4 | 5;

export interface TemplateUser {
  username: string;
  password: string;
}

export interface RenderContext {
  /** Unique replica id, e.g. `brokel-broker-3`; safe in file names and node names. */
  replicaId: string;
  /** Address the replica's main listener binds (its own 127.x.y.z, or 127.0.0.1 with `ports`). */
  host: string;
  /** Port of the main listener (the template's standard port with `aliases` addressing). */
  port: number;
  /** Private, empty on first boot, removed on destroy. */
  dataDir: string;
  /** `aliases`: the replica owns `host`, so standard ports are free there; `ports`: it shares 127.0.0.1. */
  addressing: 'aliases' | 'ports';
  /** Users to create; anonymous access when empty. */
  users: readonly TemplateUser[];
  /** Template parameters from config (validated by the template's own `params` parser). */
  params: Readonly<Record<string, unknown>>;
  /** A port free right now on `host` (an ephemeral one, claimed for this replica). */
  freePort(host: string): Promise<number>;
}

/**
 * The one process the provider runs for a replica. It becomes a process-group leader, and runs in the
 * replica's data dir (`RenderContext.dataDir`): a template may rely on that (RabbitMQ's database path
 * is relative to it, templates/rabbitmq/golden.ts).
 */
export interface ProcessSpec {
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** Extra ports it binds, by name, recorded in the replica's description. */
  ports?: Record<string, number>;
  /**
   * A broker's TLS listener: clients (the orchestrators) reach it as `mqtts://host:tlsPort`, which
   * becomes its URL; the plain main port stays for the readiness probe only.
   */
  tlsPort?: number;
  /** Per-replica details of an HTTP readiness probe: the port (default: the main one) and headers. */
  probe?: { port?: number; headers?: Record<string, string> };
}

export type ReadinessProbe = { kind: 'mqtt' } | { kind: 'http'; path: string };

export interface ReplicaTemplate {
  name: string;
  level: 'broker' | 'orchestrator';
  /** The standard port of the main listener (1883 for MQTT). */
  standardPort: number;
  /** MQTT protocol levels the broker speaks (4 = 3.1.1, 5 = 5.0). */
  protocolVersions: readonly ProtocolVersion[];
  maxQos: 0 | 1 | 2;
  /**
   * The broker sends its retained messages to a wildcard subscription (`#`) [MQTT-3.3.1-6], so the
   * manager's retained move can list them. RabbitMQ 3.10 sends them to exact filters only: its retained
   * messages cannot be listed over MQTT, and the move does not read it (a read that can find nothing
   * would only load the broker with its live traffic).
   */
  retainedWildcardRead: boolean;
  probe: ReadinessProbe;
  /** Budget from process start to ready, on this kind of machine, before it is reported failed. */
  bootTimeoutMs: number;
  /** Debian packages that provide the binaries (scripts/setup.sh installs them). */
  packages: readonly string[];
  /** Files, relative to the template's folder. */
  files: { kubernetesPod: string; opennebulaVm: string; readme: string };
  /** Throws a ConfigError naming `params.<field>` on bad parameters. */
  render(ctx: RenderContext): Promise<ProcessSpec>;
}
