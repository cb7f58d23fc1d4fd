import { z } from 'zod';

/**
 * The brokel.yaml contract (ARCHITECTURE.md, "Config"). Every field has a default so `brokel up`
 * runs with no file. Names are the contract: add fields, don't rename. Units live in the names.
 */

const fraction = z.number().min(0).max(1);
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/, 'is not HOST:PORT');

export const templateName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'is not a template name');

const levelBase = {
  lower: fraction.default(0.3),
  upper: fraction.default(0.7),
  min: z.number().int().min(1).default(1),
  cooldownObservations: z.number().int().min(0).default(0),
};

function thresholdsOrdered(
  level: { lower: number; upper: number; min: number; max: number },
  ctx: z.RefinementCtx,
) {
  if (level.lower >= level.upper) {
    ctx.addIssue({
      code: 'custom',
      path: ['lower'],
      message: `${level.lower} is not below upper (${level.upper})`,
    });
  }
  if (level.min > level.max) {
    ctx.addIssue({ code: 'custom', path: ['min'], message: `${level.min} is above max (${level.max})` });
  }
}

export const brokerLevelSchema = z
  .strictObject({
    ...levelBase,
    max: z.number().int().min(1).default(10),
    template: z.union([templateName, z.array(templateName).min(1)]).default('mosquitto'),
    cpuQuota: z.number().positive().max(64).optional().default(0.25),
  })
  .superRefine(thresholdsOrdered);

export const orchestratorLevelSchema = z
  .strictObject({
    ...levelBase,
    max: z.number().int().min(1).default(4),
    cpuQuota: z.number().positive().max(64).optional(),
  })
  .superRefine(thresholdsOrdered);

export const localProviderSchema = z.strictObject({
  addressing: z.enum(['aliases', 'ports']).default('aliases'),
  /** First two octets of the 127.x.y.z block replicas get in `aliases` mode. */
  addressBlock: z
    .string()
    .regex(/^127\.\d{1,3}$/, 'is not 127.N')
    .default('127.42'),
  bootDelaySeconds: z.number().min(0).max(600).default(0),
  /** Where replicas keep their data dirs and state; a temp dir per deployment when absent. */
  stateDir: z.string().optional(),
  stopTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  bootTimeoutMs: z.number().int().min(1000).max(600_000).default(60_000),
});

export const brokerUserSchema = z.strictObject({
  username: z.string().min(1),
  password: z.string().min(1),
});

export const configSchema = z
  .strictObject({
    deployment: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,30}$/, 'is not a deployment name (a-z, 0-9, -)')
      .default('brokel'),
    monitor: z
      .strictObject({
        intervalSeconds: z.number().min(0.1).max(3600).default(15),
        warmupObservations: z.number().int().min(0).default(3),
      })
      .prefault({}),
    smoothing: z.strictObject({ alpha: z.number().gt(0).max(1).default(0.5) }).prefault({}),
    policy: z.enum(['reactive', 'proactive']).default('reactive'),
    /** Holt's linear smoothing for the proactive policy: trend factor and how far ahead to look. */
    proactive: z
      .strictObject({
        beta: z.number().gt(0).max(1).default(0.3),
        horizonObservations: z.number().int().min(1).max(100).default(2),
      })
      .prefault({}),
    manager: z
      .strictObject({
        /** JSON-lines file of every observation and decision; `<stateDir>/decisions.jsonl` when absent. */
        decisionLog: z.string().optional(),
        /** Budget of one action (create + ready + sync, or drain + idle + destroy). */
        actionTimeoutSeconds: z.number().min(1).max(3600).default(180),
        /** A draining broker is idle once nothing was in flight and nothing delivered for this long. */
        drainQuietSeconds: z.number().min(0).max(600).default(2),
        /** Admin token for the orchestrators; a random one per run when absent. */
        adminToken: z.string().min(16).optional(),
      })
      .prefault({}),
    levels: z
      .strictObject({
        brokers: brokerLevelSchema.prefault({}),
        orchestrators: orchestratorLevelSchema.prefault({}),
      })
      .prefault({}),
    sla: z.strictObject({ maxReplicas: z.number().int().min(2).default(12) }).prefault({}),
    routing: z.enum(['round-robin', 'client-affinity', 'topic-affinity']).default('round-robin'),
    brokers: z
      .strictObject({
        /** Users the broker templates create; anonymous access when empty. */
        users: z.array(brokerUserSchema).default([]),
      })
      .prefault({}),
    provider: z
      .strictObject({
        kind: z.enum(['local', 'kubernetes', 'opennebula']).default('local'),
        local: localProviderSchema.prefault({}),
      })
      .prefault({}),
    dns: z
      .strictObject({
        listen: hostPort.default('127.0.0.1:5353'),
        zone: z.string().default('brokel.test'),
        name: z.string().default('mqtt.brokel.test'),
        ttlSeconds: z.number().int().min(0).max(86_400).default(5),
      })
      .prefault({}),
    api: z.strictObject({ listen: hostPort.default('127.0.0.1:9780') }).prefault({}),
  })
  .superRefine((config, ctx) => {
    const floor = config.levels.brokers.min + config.levels.orchestrators.min;
    if (config.sla.maxReplicas < floor) {
      ctx.addIssue({
        code: 'custom',
        path: ['sla', 'maxReplicas'],
        message: `${config.sla.maxReplicas} is below the levels' minimums together (${floor})`,
      });
    }
  });

export type BrokelConfig = z.infer<typeof configSchema>;
export type BrokelConfigInput = z.input<typeof configSchema>;
export type LocalProviderConfig = z.infer<typeof localProviderSchema>;
export type BrokerUser = z.infer<typeof brokerUserSchema>;
