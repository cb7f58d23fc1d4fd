import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ROUTING_STRATEGY_NAMES } from '../../common/admin/contract.ts';
import { validate } from '../../common/config/load.ts';
import type { ProcessSpec, RenderContext, ReplicaTemplate } from '../template.ts';
import { ORCHESTRATOR_ENV } from './process-env.ts';

const BIN = fileURLToPath(new URL('../../bin/brokel.js', import.meta.url));
export const ADMIN_PORT = 9781;

export const orchestratorParamsSchema = z.strictObject({
  /** The broker pool it starts with (`mqtt://host:port`, all active); the manager changes it later. */
  brokers: z.array(z.string().min(1)).min(1),
  routing: z.enum(ROUTING_STRATEGY_NAMES).default('round-robin'),
  /** The config's limits.qos2OnBrokerLoss (docs/acknowledgements-and-qos.md). */
  qos2OnBrokerLoss: z.enum(['resend', 'drop']).default('resend'),
  /** The config's limits.connectsPerSecond and limits.maxQueuedConnects (docs/faults-and-security.md). */
  connectsPerSecond: z.number().int().min(0).optional(),
  maxQueuedConnects: z.number().int().min(0).optional(),
  /** The config's limits.maxPendingConnections. */
  maxPendingConnections: z.number().int().min(0).optional(),
  /** The config's limits.upstreamLinkGraceSeconds. */
  upstreamLinkGraceSeconds: z.number().int().min(0).max(3600).default(30),
  /** The config's limits.ackHoldMs. */
  ackHoldMs: z.number().int().min(0).max(1000).default(20),
  /** PEM file of the CA that signed the `mqtts://` brokers' certificates (brokers.tls): `--broker-ca`. */
  brokerCaFile: z.string().min(1).optional(),
  /**
   * The deployment's broker user (brokers.users[0]) for the registry's own connections; given in the
   * environment (BROKEL_REGISTRY_USERNAME / _PASSWORD), not on the command line.
   */
  registryUser: z.strictObject({ username: z.string().min(1), password: z.string() }).optional(),
  /** Bearer token of its admin API (the manager's own). */
  adminToken: z.string().min(16),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
});

/**
 * One orchestrator replica (`brokel orchestrator`): MQTT on the replica's address and standard port,
 * its admin API on ADMIN_PORT (aliases) or an ephemeral port (ports), both token-protected.
 * Ready when GET /healthz answers 200.
 */
export const orchestratorTemplate: ReplicaTemplate = {
  name: 'orchestrator',
  level: 'orchestrator',
  standardPort: 1883,
  protocolVersions: [4, 5],
  maxQos: 2,
  retainedWildcardRead: true,
  probe: { kind: 'http', path: '/healthz' },
  bootTimeoutMs: 20_000,
  packages: [],
  files: { kubernetesPod: 'k8s/pod.yaml', opennebulaVm: 'opennebula/vm-template.json', readme: 'README.md' },

  async render(ctx: RenderContext): Promise<ProcessSpec> {
    const params = validate(orchestratorParamsSchema, ctx.params, 'orchestrator template', 'params');
    const adminPort = ctx.addressing === 'aliases' ? ADMIN_PORT : await ctx.freePort(ctx.host);
    const args = [
      BIN,
      'orchestrator',
      '--listen',
      `${ctx.host}:${ctx.port}`,
      '--admin',
      `${ctx.host}:${adminPort}`,
    ];
    args.push('--brokers', params.brokers.join(','));
    args.push('--routing', params.routing, '--log-level', params.logLevel);
    args.push('--qos2-on-broker-loss', params.qos2OnBrokerLoss);
    if (params.connectsPerSecond !== undefined)
      args.push('--connects-per-second', String(params.connectsPerSecond));
    if (params.maxQueuedConnects !== undefined)
      args.push('--max-queued-connects', String(params.maxQueuedConnects));
    if (params.maxPendingConnections !== undefined)
      args.push('--max-pending-connections', String(params.maxPendingConnections));
    args.push('--upstream-link-grace-seconds', String(params.upstreamLinkGraceSeconds));
    args.push('--ack-hold-ms', String(params.ackHoldMs));
    if (params.brokerCaFile !== undefined) args.push('--broker-ca', params.brokerCaFile);
    return {
      command: process.execPath,
      args,
      env: {
        ...ORCHESTRATOR_ENV,
        BROKEL_ADMIN_TOKEN: params.adminToken,
        ...(params.registryUser
          ? {
              BROKEL_REGISTRY_USERNAME: params.registryUser.username,
              BROKEL_REGISTRY_PASSWORD: params.registryUser.password,
            }
          : {}),
      },
      ports: { admin: adminPort },
      probe: { port: adminPort, headers: { authorization: `Bearer ${params.adminToken}` } },
    };
  },
};
