import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProcessSpec, RenderContext, ReplicaTemplate } from '../template.ts';
import { parseRabbitmqParams, renderEnabledPlugins, renderRabbitmqConf } from './config.ts';
import { checkRabbitmqUsers, renderDefinitions } from './definitions.ts';
import { machineGolden, seedFromGolden } from './golden.ts';
import { rabbitmqCommand, rabbitmqEnv } from './process.ts';

const AMQP_STANDARD_PORT = 5672;
const MANAGEMENT_STANDARD_PORT = 15672;
/** The user anonymous MQTT clients act as when no users are configured (random password per boot). */
export const ANONYMOUS_USER = 'brokel-anonymous';

/**
 * RabbitMQ 3.10 with its MQTT plugin (Debian 12: 3.10.8 on Erlang 25). MQTT 3.1.1 only; QoS 2
 * subscriptions are granted QoS 1. To first CONNACK: median 6.2 s from the golden database (golden.ts),
 * 11.4 s from an empty one (5 alternated each; three at once 16–23 s and ~28 s at a 0.25-core quota,
 * measured empty). Idle RSS of the whole replica ~134 MiB. See README.md.
 */
export const rabbitmqTemplate: ReplicaTemplate = {
  name: 'rabbitmq',
  level: 'broker',
  standardPort: 1883,
  protocolVersions: [4],
  maxQos: 1,
  retainedWildcardRead: false,
  probe: { kind: 'mqtt' },
  // ~2× the slowest boot measured (28 s at a 0.25-core CPU quota).
  bootTimeoutMs: 60_000,
  packages: ['rabbitmq-server'],
  files: { kubernetesPod: 'k8s/pod.yaml', opennebulaVm: 'opennebula/vm-template.json', readme: 'README.md' },

  async render(ctx: RenderContext): Promise<ProcessSpec> {
    const params = parseRabbitmqParams(ctx.params);
    checkRabbitmqUsers(ctx.users);
    const anonymous =
      ctx.users.length === 0
        ? { username: ANONYMOUS_USER, password: randomBytes(24).toString('base64url') }
        : undefined;
    const aliases = ctx.addressing === 'aliases';
    const amqpPort = aliases ? AMQP_STANDARD_PORT : await ctx.freePort(ctx.host);
    let managementPort: number | undefined;
    if (params.management) managementPort = aliases ? MANAGEMENT_STANDARD_PORT : await ctx.freePort(ctx.host);
    // Erlang distribution and epmd are internal: always loopback, never the replica's own address.
    const distPort = await ctx.freePort('127.0.0.1');
    const epmdPort = await ctx.freePort('127.0.0.1');

    const definitionsFile = join(ctx.dataDir, 'definitions.json');
    const users = anonymous ? [anonymous] : ctx.users;
    const tags = params.management ? ['administrator'] : [];
    await writeFile(
      definitionsFile,
      renderDefinitions({ users, vhost: params.vhost, tags, topicPermissions: params.topicPermissions }),
      {
        mode: 0o600,
      },
    );
    const conf = renderRabbitmqConf({
      host: ctx.host,
      port: ctx.port,
      amqpPort,
      managementPort,
      definitionsFile,
      anonymous,
      params,
    });
    await writeFile(join(ctx.dataDir, 'rabbitmq.conf'), conf, { mode: 0o600 });
    const plugins = renderEnabledPlugins(params);
    await writeFile(join(ctx.dataDir, 'enabled_plugins'), plugins);
    await writeCookie(ctx.dataDir);
    // A first boot starts from the golden database when this machine has one (golden.ts): 3–6 s sooner.
    await seedFromGolden(ctx.dataDir, plugins, machineGolden());
    // Run as root, the package's own script stays root (only /usr/sbin/rabbitmq-server switches
    // users), so the data dir needs no chown.
    return {
      ...rabbitmqCommand(),
      env: rabbitmqEnv({ dataDir: ctx.dataDir, distPort, epmdPort }),
      ports: {
        amqp: amqpPort,
        dist: distPort,
        epmd: epmdPort,
        ...(managementPort === undefined ? {} : { management: managementPort }),
      },
    };
  },
};

/** Erlang refuses a cookie file others can read; keep an existing one across re-renders. */
export async function writeCookie(dataDir: string): Promise<void> {
  const cookie = randomBytes(20).toString('hex').toUpperCase();
  try {
    await writeFile(join(dataDir, '.erlang.cookie'), cookie, { mode: 0o400, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}
