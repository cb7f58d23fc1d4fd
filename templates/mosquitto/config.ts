import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { validate } from '../../common/config/load.ts';
import type { TemplateUser } from '../template.ts';

/**
 * Mosquitto's per-replica parameters. The queue limits are the point: Mosquitto's default
 * `max_queued_messages 1000` silently drops QoS 1/2 messages for a subscriber that falls more than
 * 20 in flight + 1000 queued behind (measured here: about half lost, 1 → 1 at max rate). The template
 * therefore queues without a count limit (0 = unlimited) and bounds memory by bytes instead, at a size
 * a replica VM holds comfortably; the orchestrator's bounded in-flight windows are what push back.
 */
export const mosquittoParamsSchema = z.strictObject({
  /** 0 = no count limit (Mosquitto's own default, 1000, drops messages). */
  maxQueuedMessages: z.number().int().min(0).default(0),
  /** 0 = no byte limit. Default 0: a bounded queue in Mosquitto means silent loss, never backpressure. */
  maxQueuedBytes: z.number().int().min(0).default(0),
  /**
   * QoS 1/2 messages in flight per client, both ways (Mosquitto's default is 20). It is also the
   * Receive Maximum Mosquitto announces to an MQTT 5 client, which the orchestrator keeps to per
   * session: at 20 it capped a QoS 1 publisher's pipelining through the orchestrator. 100 matches the
   * orchestrator's own window per client (`maxInflightFromClient`; docs/data-plane.md).
   */
  maxInflightMessages: z.number().int().min(0).max(65_535).default(100),
  /** Largest accepted packet in bytes; 0 = MQTT's own limit (256 MiB). */
  maxPacketSizeBytes: z.number().int().min(0).default(0),
  persistence: z.boolean().default(true),
  /**
   * Lines of a Mosquitto `acl_file` (`user alice`, `topic read a/#`, `pattern write c/%u/#`); absent:
   * no ACL, every client may use every topic. Authorization stays the broker's: the orchestrator
   * passes its PUBACK/SUBACK reason codes through.
   */
  acl: z.array(z.string().regex(/^[^\n\r]*$/, 'is not one line')).optional(),
  /**
   * A second listener speaking MQTT over TLS (issue 17), beside the plain one the manager probes.
   * Either its port and the replica's certificate and key (common/tls/certs.ts makes them, signed by the
   * deployment's CA), or the CA itself (`brokers.tls: true`: the manager's): the template then issues
   * the replica a certificate for its own address at render time and listens on 8883 (`aliases`) or an
   * ephemeral port (`ports`). Orchestrators reach it as `mqtts://host:port` and verify it against that CA.
   */
  tls: z
    .union([
      z.strictObject({
        port: z.number().int().min(1).max(65_535),
        certFile: z.string().min(1),
        keyFile: z.string().min(1),
      }),
      z.strictObject({ caCertFile: z.string().min(1), caKeyFile: z.string().min(1) }),
    ])
    .optional(),
  /** Mosquitto's log types to print; `error warning notice information` by default. */
  logTypes: z
    .array(z.enum(['error', 'warning', 'notice', 'information', 'debug', 'all']))
    .default(['error', 'warning', 'notice', 'information']),
});

export type MosquittoParams = z.infer<typeof mosquittoParamsSchema>;

export function parseMosquittoParams(params: Readonly<Record<string, unknown>>): MosquittoParams {
  return validate(mosquittoParamsSchema, params, 'mosquitto template', 'params');
}

export interface MosquittoConfInput {
  host: string;
  port: number;
  dataDir: string;
  passwordFile: string | undefined;
  /** The rendered `acl_file` (the `acl` param's lines); none when absent. */
  aclFile?: string | undefined;
  params: MosquittoParams;
  /** The TLS listener when the template issued its certificate (`tls` with the CA); else `params.tls`. */
  tls?: TlsListener | undefined;
}

export interface TlsListener {
  port: number;
  certFile: string;
  keyFile: string;
}

/** The mosquitto.conf of one replica (pure). */
export function renderMosquittoConf(input: MosquittoConfInput): string {
  const { params } = input;
  const tls = input.tls ?? (params.tls && 'certFile' in params.tls ? params.tls : undefined);
  const lines = [
    '# Rendered by brokel templates/mosquitto for one replica. Do not edit: re-rendered on every boot.',
    'per_listener_settings false',
    `listener ${input.port} ${input.host}`,
    'protocol mqtt',
    // A proxy in front adds a hop; without TCP_NODELAY p50 rose from 0.15 ms to 3.7 ms (FIELD-NOTES).
    'set_tcp_nodelay true',
    input.passwordFile ? 'allow_anonymous false' : 'allow_anonymous true',
    ...(input.passwordFile ? [`password_file ${input.passwordFile}`] : []),
    ...(input.aclFile ? [`acl_file ${input.aclFile}`] : []),
    `persistence ${params.persistence}`,
    `persistence_location ${input.dataDir.endsWith('/') ? input.dataDir : `${input.dataDir}/`}`,
    'autosave_interval 60',
    `max_queued_messages ${params.maxQueuedMessages}`,
    `max_queued_bytes ${params.maxQueuedBytes}`,
    `max_inflight_messages ${params.maxInflightMessages}`,
    ...(params.maxPacketSizeBytes > 0 ? [`max_packet_size ${params.maxPacketSizeBytes}`] : []),
    // stderr is unbuffered: the last lines survive a crash (the provider reports them).
    'log_dest stderr',
    ...params.logTypes.map((t) => `log_type ${t}`),
    'log_timestamp true',
    'log_timestamp_format %Y-%m-%dT%H:%M:%S',
    'connection_messages true',
    // Listener-specific options (certfile, keyfile) apply to the listener line above them.
    ...(tls
      ? [
          `listener ${tls.port} ${input.host}`,
          'protocol mqtt',
          `certfile ${tls.certFile}`,
          `keyfile ${tls.keyFile}`,
        ]
      : []),
    '',
  ];
  return lines.join('\n');
}

/**
 * One password-file line in Mosquitto 2.0's `$7$` format: PBKDF2-HMAC-SHA512, 101 iterations,
 * 12-byte salt, 64-byte key, both base64 (what `mosquitto_passwd` writes).
 */
export function mosquittoPasswordLine(user: TemplateUser, salt: Buffer = randomBytes(12)): string {
  if (user.username.includes(':')) throw new Error(`username ${JSON.stringify(user.username)} contains ':'`);
  const hash = pbkdf2Sync(user.password, salt, 101, 64, 'sha512');
  return `${user.username}:$7$101$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/**
 * The `acl_file`: the operator's lines after one pattern that lets every user read and write the
 * orchestrators' reserved space (`$brokel/`: the session registry's records, written through each
 * client's own upstream connection). Without it Mosquitto denies those writes and, being Mosquitto,
 * closes the client's upstream connection on the denied publish. Clients never reach that space: the
 * orchestrator refuses it to them (docs/persistent-sessions.md).
 */
export function renderAclFile(lines: readonly string[]): string {
  return `pattern readwrite $brokel/#\n${lines.join('\n')}\n`;
}
