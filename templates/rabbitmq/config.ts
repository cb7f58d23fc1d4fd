import { z } from 'zod';
import { validate } from '../../common/config/load.ts';

/**
 * RabbitMQ's per-replica parameters. RabbitMQ's MQTT plugin never drops a QoS 0/1 message for a slow
 * subscriber: every subscription is a queue with no length limit. What bounds it is the node's memory
 * high watermark: above it RabbitMQ blocks every publishing connection (TCP backpressure) until the
 * queues drain or page to disk. The default watermark is 40 % of the machine's RAM, which is wrong when
 * several replicas share a machine, so the template sets an absolute one per replica.
 */
export const rabbitmqParamsSchema = z.strictObject({
  /** Enables rabbitmq_management (HTTP API and UI; users get the `administrator` tag). ~+8 MiB RSS. */
  management: z.boolean().default(false),
  /** The vhost MQTT clients land in (`mqtt.vhost`). Plain names only: it is written into rabbitmq.conf. */
  vhost: z
    .string()
    .max(255)
    .regex(/^[A-Za-z0-9_./-]+$/, 'is not a plain vhost name (letters, digits, _ . / -)')
    .default('/'),
  /** Console log level (RabbitMQ logs to stdout only; no log files). */
  logLevel: z.enum(['debug', 'info', 'notice', 'warning', 'error', 'critical', 'none']).default('info'),
  /** Above this much memory RabbitMQ blocks publishers (backpressure, never loss). */
  memoryHighWatermarkMiB: z.number().int().min(128).max(1_048_576).default(1024),
  /** Unacknowledged QoS 1 deliveries per MQTT subscriber (`mqtt.prefetch`; RabbitMQ's default 10). */
  prefetch: z.number().int().min(1).max(65_535).default(10),
  /**
   * Topic permissions (RabbitMQ's topic authorisation, on `amq.topic`, where MQTT publishes): per user,
   * regular expressions over the routing key (the MQTT topic with `/` read as `.`) it may write
   * (publish) and read (subscribe). Absent: every user may use every topic.
   */
  topicPermissions: z
    .array(z.strictObject({ user: z.string().min(1), write: z.string(), read: z.string() }))
    .optional(),
});

export type RabbitmqParams = z.infer<typeof rabbitmqParamsSchema>;

export function parseRabbitmqParams(params: Readonly<Record<string, unknown>>): RabbitmqParams {
  return validate(rabbitmqParamsSchema, params, 'rabbitmq template', 'params');
}

export interface RabbitmqConfInput {
  host: string;
  /** MQTT listener port. */
  port: number;
  amqpPort: number;
  /** Only when `params.management`. */
  managementPort: number | undefined;
  definitionsFile: string;
  /** The user anonymous MQTT clients act as; undefined = anonymous MQTT refused. */
  anonymous: { username: string; password: string } | undefined;
  params: RabbitmqParams;
}

/**
 * The rabbitmq.conf of one replica (pure). RabbitMQ refuses to boot on a key it does not know, so the
 * management keys appear only with the management plugin enabled. Every key here was booted on 3.10.8.
 * IPv4 listener addresses only (`ADDR:PORT`).
 */
export function renderRabbitmqConf(input: RabbitmqConfInput): string {
  const { params } = input;
  const lines = [
    '# Rendered by brokel templates/rabbitmq for one replica. Do not edit: re-rendered on every boot.',
    `listeners.tcp.default = ${input.host}:${input.amqpPort}`,
    // MQTT 3.1.1 only on 3.10; the plugin's own listen options already set nodelay (and backlog 128):
    // setting any mqtt.tcp_listen_options key would replace that whole list.
    `mqtt.listeners.tcp.default = ${input.host}:${input.port}`,
    `mqtt.vhost = ${params.vhost}`,
    `mqtt.prefetch = ${params.prefetch}`,
    `mqtt.allow_anonymous = ${input.anonymous !== undefined}`,
    ...(input.anonymous
      ? [`mqtt.default_user = ${input.anonymous.username}`, `mqtt.default_pass = ${input.anonymous.password}`]
      : []),
    // With definitions to load, RabbitMQ creates no default `guest` user and no default vhost.
    `load_definitions = ${input.definitionsFile}`,
    `vm_memory_high_watermark.absolute = ${params.memoryHighWatermarkMiB * 1024 * 1024}`,
    'log.console = true',
    `log.console.level = ${params.logLevel}`,
    'log.console.use_colors = off',
    'log.file = false',
    ...(params.management && input.managementPort !== undefined
      ? [`management.tcp.ip = ${input.host}`, `management.tcp.port = ${input.managementPort}`]
      : []),
    '',
  ];
  return lines.join('\n');
}

/**
 * The enabled_plugins file (an Erlang term list). Writing it is all that
 * `rabbitmq-plugins enable --offline` does; RabbitMQ starts the dependencies itself.
 */
export function renderEnabledPlugins(params: RabbitmqParams): string {
  const plugins = params.management ? ['rabbitmq_management', 'rabbitmq_mqtt'] : ['rabbitmq_mqtt'];
  return `[${plugins.join(',')}].\n`;
}
