import { z } from 'zod';
import { ROUTING_STRATEGY_NAMES } from '../admin/contract.ts';
import { parseCidr } from '../net/cidr.ts';
import { isLoopbackHost } from '../net/loopback.ts';

/**
 * The brokel.yaml contract (ARCHITECTURE.md, "Config"). Every field has a default so `brokel up`
 * runs with no file. Names are the contract: add fields, don't rename. Units live in the names.
 */

const fraction = z.number().min(0).max(1);
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/, 'is not HOST:PORT');

export const templateName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'is not a template name');

const levelBase = {
  /** Scale in below this level load (fraction of the level's allocated CPU). */
  lower: fraction.default(0.3),
  /** Scale out above this level load. */
  upper: fraction.default(0.7),
  /** Replicas the level never goes below (`brokel up` starts these). */
  min: z.number().int().min(1).default(1),
  /** Observations to wait after an action of this level before the next. */
  cooldownObservations: z.number().int().min(0).default(0),
  /**
   * Replicas one scale-out of the reactive and proactive policies may add together: 1 is the Brokel
   * model (one at a time); above 1, an add brings the level towards the middle of [lower, upper]
   * (ceil(replicas × load ÷ middle), at most this many more). The hpa policy has its own scale-up rules.
   */
  maxAddPerAction: z.number().int().min(1).max(100).default(1),
};

/**
 * A storm the connect gate is sized to admit (connectsPerSecond at once plus maxQueuedConnects waiting)
 * arrives within milliseconds: the orchestrator accepts its sockets before it reads their CONNECTs, so
 * they all count as pending for a moment. A lower bound would close some of them (issue #17's storm).
 */
function pendingCoversStorm(
  limits: { connectsPerSecond: number; maxQueuedConnects: number; maxPendingConnections: number },
  ctx: z.RefinementCtx,
) {
  const storm = limits.connectsPerSecond + limits.maxQueuedConnects;
  if (
    limits.maxPendingConnections !== 0 &&
    limits.connectsPerSecond !== 0 &&
    limits.maxPendingConnections < storm
  )
    ctx.addIssue({
      code: 'custom',
      path: ['maxPendingConnections'],
      message: `is ${limits.maxPendingConnections}, below connectsPerSecond + maxQueuedConnects (${storm}): a connection storm the connect queue admits arrives at once and is pending until its CONNECTs are read, so some of it would be closed; raise it to at least ${storm} (or 0: no bound)`,
    });
}

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
    /** Replicas the level never goes above. */
    max: z.number().int().min(1).default(10),
    /** Broker template (`mosquitto`, `rabbitmq`), or a list used in turn for a mixed pool. */
    template: z.union([templateName, z.array(templateName).min(1)]).default('mosquitto'),
    /** Cores each broker replica gets (a VM's size; cgroup quota on the local provider). */
    cpuQuota: z.number().positive().max(64).optional().default(0.25),
    /** Per-template cores overriding `cpuQuota` (a mixed pool whose kinds need different VM sizes), e.g. `{ rabbitmq: 0.25 }`. */
    cpuQuotaByTemplate: z.record(templateName, z.number().positive().max(64)).optional(),
  })
  .superRefine(thresholdsOrdered);

export const orchestratorLevelSchema = z
  .strictObject({
    ...levelBase,
    /** Replicas the level never goes above. */
    max: z.number().int().min(1).default(4),
    /** Cores each orchestrator replica gets; unconstrained when absent. */
    cpuQuota: z.number().positive().max(64).optional(),
  })
  .superRefine(thresholdsOrdered);

export const localProviderSchema = z.strictObject({
  /** `aliases`: each replica on its own 127.A.x.y with the standard port; `ports`: 127.0.0.1, own port. */
  addressing: z.enum(['aliases', 'ports']).default('aliases'),
  /** First two octets of the 127.x.y.z block replicas get in `aliases` mode. */
  addressBlock: z
    .string()
    .regex(/^127\.\d{1,3}$/, 'is not 127.N')
    .default('127.42'),
  /** Extra seconds before a replica starts, to mimic a VM's boot. */
  bootDelaySeconds: z.number().min(0).max(600).default(0),
  /** Where replicas keep their data dirs and state; a temp dir per deployment when absent. */
  stateDir: z.string().optional(),
  /** SIGTERM, then SIGKILL after this long. */
  stopTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  /** A replica not ready by then is failed. */
  bootTimeoutMs: z.number().int().min(1000).max(600_000).default(60_000),
  /**
   * Cores a replica's cgroup gets while it boots (until its readiness probe first answers), then its own
   * quota: a startup CPU boost. A cgroup throttled to a small VM's share boots a BEAM broker far slower than
   * a VM of that size boots (RabbitMQ: ~40 s at 0.25 core, ~20 s at 1 core here). No boost when absent;
   * a replica without a quota runs unconstrained anyway.
   */
  bootCpuQuota: z.number().positive().max(64).optional(),
});

export const brokerUserSchema = z.strictObject({
  username: z.string().min(1),
  password: z.string().min(1),
});

/** One user's RabbitMQ topic permission (regular expressions over the routing key: the topic with `/` as `.`). */
export const topicPermissionSchema = z.strictObject({
  user: z.string().min(1),
  /** Topics it may publish to. */
  write: z.string(),
  /** Topics it may subscribe to. */
  read: z.string(),
});

const dnsName = z
  .string()
  .regex(
    /^([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.?$/,
    'is not a DNS name',
  )
  .max(253)
  .transform((name) => name.toLowerCase().replace(/\.$/, ''));

export const geoLocationSchema = z.strictObject({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
  region: z.string().min(1).max(64).optional(),
});

const cidr = z
  .string()
  .refine((value) => parseCidr(value) !== undefined, 'is not an IPv4 or IPv6 CIDR (a.b.c.d/n)');

export const dnsSchema = z
  .strictObject({
    /** Where `brokel up` runs geo-dns in-process (UDP and TCP); `enabled: false` for none. */
    enabled: z.boolean().default(true),
    /** UDP and TCP address geo-dns answers on. */
    listen: hostPort.default('127.0.0.1:5353'),
    /** The zone geo-dns is authoritative for (SOA and NS at its apex). */
    zone: dnsName.default('brokel.test'),
    /** The name clients resolve; inside the zone. */
    name: dnsName.default('mqtt.brokel.test'),
    /** TTL of the answers: short, so clients follow scale-out and drains. */
    ttlSeconds: z.number().int().min(0).max(86_400).default(5),
    /** Orchestrators within this distance of the nearest one count as equally near: least load wins. */
    tieKm: z.number().min(0).max(20_000).default(50),
    /** Records per answer: the best first, then the next best. */
    topK: z.number().int().min(1).max(16).default(1),
    /** Encoded answers kept (per query bytes and source; emptied on any record change); 0: none. */
    cacheEntries: z.number().int().min(0).max(1_000_000).default(4096),
    /** A MaxMind-format (.mmdb) city database; the npm-shipped GeoLite2 City one when absent. */
    geoipDatabase: z.string().min(1).optional(),
    /** Client networks the GeoIP database cannot place (private, loopback); longest prefix wins. */
    locations: z.array(z.strictObject({ cidr, ...geoLocationSchema.shape })).default([]),
    /** Where this deployment's orchestrators run (their DNS records' location); unknown when absent. */
    site: geoLocationSchema.optional(),
    /** Standalone server (`brokel dns`): the token-protected HTTP API the manager registers through. */
    api: z
      .strictObject({
        listen: hostPort.optional(),
        /** Bearer token of the API; BROKEL_DNS_TOKEN overrides it. */
        token: z.string().min(16).optional(),
      })
      .prefault({}),
    /** A manager that is not co-located with geo-dns registers orchestrators at this API instead. */
    registry: z
      .strictObject({
        url: z.url({ protocol: /^https?$/ }).optional(),
        token: z.string().min(16).optional(),
      })
      .prefault({}),
  })
  .superRefine((dns, ctx) => {
    if (dns.name !== dns.zone && !dns.name.endsWith(`.${dns.zone}`))
      ctx.addIssue({ code: 'custom', path: ['name'], message: `${dns.name} is not inside zone ${dns.zone}` });
    if (dns.registry.url !== undefined && dns.registry.token === undefined)
      ctx.addIssue({ code: 'custom', path: ['registry', 'token'], message: 'is required with registry.url' });
  });

export const hpaSchema = z.strictObject({
  /** Target utilization of the level (fraction of its allocation); desired = ceil(n × load / target). */
  targetUtilization: z.number().gt(0).max(1).default(0.5),
  /** No change while |load / target − 1| is within it (the HPA's 0.1). */
  tolerance: z.number().min(0).max(1).default(0.1),
  /** Scale down to the highest recommendation of this window (the HPA's 300 s). */
  scaleDownStabilizationSeconds: z.number().min(0).max(3600).default(300),
  /** Scale-up policies, the larger wins: +percent and +replicas per period (the HPA's 100 %, 4, 15 s). */
  scaleUpPercent: z.number().min(0).max(1000).default(100),
  scaleUpReplicas: z.number().int().min(0).max(1000).default(4),
  scaleUpPeriodSeconds: z.number().gt(0).max(3600).default(15),
});

export const configSchema = z
  .strictObject({
    /** Names the replicas (`brokel-b1`, `brokel-o1`), cgroups and the state dir. */
    deployment: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,30}$/, 'is not a deployment name (a-z, 0-9, -)')
      .default('brokel'),
    monitor: z
      .strictObject({
        /** Time between two monitoring observations (15 s in the paper). */
        intervalSeconds: z.number().min(0.1).max(3600).default(15),
        /** Observations before the first decision (loads settle first). */
        warmupObservations: z.number().int().min(0).default(3),
      })
      .prefault({}),
    /** Exponential smoothing of each replica's CPU, `L(t) = α·cpu(t) + (1 − α)·L(t−1)`; α = 0.5 is the paper's aging. */
    smoothing: z.strictObject({ alpha: z.number().gt(0).max(1).default(0.5) }).prefault({}),
    policy: z.enum(['reactive', 'proactive', 'hpa']).default('reactive'),
    /** Holt's linear smoothing for the proactive policy: trend factor and how far ahead to look. */
    proactive: z
      .strictObject({
        beta: z.number().gt(0).max(1).default(0.3),
        horizonObservations: z.number().int().min(1).max(100).default(2),
      })
      .prefault({}),
    /** The Kubernetes HPA baseline (`policy: hpa`; manager/policies/hpa.ts), with the HPA's defaults. */
    hpa: hpaSchema.prefault({}),
    manager: z
      .strictObject({
        /** JSON-lines file of every observation and decision; when absent, `<deployment>-decisions.jsonl` beside the deployment's state folder (`/tmp/brokel/brokel-decisions.jsonl` by default), so it outlives `brokel down`. */
        decisionLog: z.string().optional(),
        /** Budget of one action (create + ready + sync, or drain + idle + destroy). */
        actionTimeoutSeconds: z.number().min(1).max(3600).default(180),
        /** A draining broker is idle once nothing was in flight and nothing delivered for this long. */
        drainQuietSeconds: z.number().min(0).max(600).default(2),
        /** Admin token for the orchestrators, POST /api/scale and /api/rebalance (and reads when `api.readAccess` says so); a random one per run when absent. Required when api.listen is not a loopback address. */
        adminToken: z.string().min(16).optional(),
      })
      .prefault({}),
    levels: z
      .strictObject({
        brokers: brokerLevelSchema.prefault({}),
        orchestrators: orchestratorLevelSchema.prefault({}),
      })
      .prefault({}),
    /** `maxReplicas`: both levels together never exceed it. */
    sla: z.strictObject({ maxReplicas: z.number().int().min(2).default(12) }).prefault({}),
    /**
     * How an orchestrator picks the broker for a publish: round-robin (the paper), least-outstanding
     * (the broker holding the fewest of the session's unacknowledged publishes), or per client / per
     * topic to keep order.
     */
    routing: z.enum(ROUTING_STRATEGY_NAMES).default('round-robin'),
    /** Data-plane choices of the orchestrators (docs/acknowledgements-and-qos.md). */
    limits: z
      .strictObject({
        /** A QoS 2 publish PUBREC'd by a broker that dies: re-sent elsewhere (no loss, maybe twice) or dropped. */
        qos2OnBrokerLoss: z.enum(['resend', 'drop']).default('resend'),
        /** Client CONNECTs each orchestrator admits per second (token bucket, as many at once; 0: no limit); over it they wait in a queue (docs/faults-and-security.md). */
        connectsPerSecond: z.number().int().min(0).max(100_000).default(500),
        /** CONNECTs waiting for their turn per orchestrator; one more gets CONNACK 0x9F (v5) / 3 (3.1.1). */
        maxQueuedConnects: z.number().int().min(0).max(100_000).default(2500),
        /** TCP connections per orchestrator that have not sent CONNECT yet (each closed after 10 s anyway); beyond it a new one is closed at once, so silent sockets cannot take every file descriptor. At least connectsPerSecond + maxQueuedConnects (a storm arrives at once, pending until its CONNECTs are read); 0: no bound (docs/faults-and-security.md). */
        maxPendingConnections: z.number().int().min(0).max(1_000_000).default(10_000),
        /** A clean session's upstream session on an MQTT 5 broker outlives a lost link this long (its Session Expiry Interval), so what the broker queued meanwhile arrives once the link is back; 0: a lost link loses it (docs/acknowledgements-and-qos.md). */
        upstreamLinkGraceSeconds: z.number().int().min(0).max(3600).default(30),
        /** A PUBACK an orchestrator relays from a subscriber to its broker waits up to this long for others on the same link, so that up to 4 leave in one write; 0: each leaves at once. A link whose broker waits for them (fewer deliveries allowed in flight than held: Mosquitto `max_inflight_messages 1`, a RabbitMQ `prefetch` of 1–2) stops holding for 10 s once 4 holds in a row were answered at once (docs/data-plane.md). */
        ackHoldMs: z.number().int().min(0).max(1000).default(20),
      })
      .superRefine(pendingCoversStorm)
      .prefault({}),
    brokers: z
      .strictObject({
        /** Users the broker templates create; anonymous access when empty. */
        users: z.array(brokerUserSchema).default([]),
        /** Lines of a Mosquitto `acl_file` (`user alice`, `topic read a/#`), given to every mosquitto replica; absent: no ACL. Every user may also use the reserved `$brokel/#`; the first user (the deployment's own, which moves retained messages) needs `topic readwrite #` (docs/faults-and-security.md). */
        acl: z.array(z.string().regex(/^[^\n\r]*$/, 'is not one line')).optional(),
        /** RabbitMQ topic permissions, given to every rabbitmq replica; absent: every user may use every topic. */
        topicPermissions: z.array(topicPermissionSchema).optional(),
        /** Orchestrators reach brokers over TLS: the manager makes a CA (kept in the state dir), every broker replica a TLS listener with a certificate it signs, orchestrators `mqtts://` URLs verified against it (docs/faults-and-security.md). Mosquitto brokers on the local provider; restart-only. */
        tls: z.boolean().default(false),
      })
      .superRefine((brokers, ctx) => {
        const names = new Set(brokers.users.map((u) => u.username));
        for (const [i, p] of (brokers.topicPermissions ?? []).entries()) {
          if (!names.has(p.user))
            ctx.addIssue({
              code: 'custom',
              path: ['topicPermissions', i, 'user'],
              message: `${JSON.stringify(p.user)} is not one of brokers.users`,
            });
        }
      })
      .prefault({}),
    provider: z
      .strictObject({
        kind: z.enum(['local', 'kubernetes', 'opennebula']).default('local'),
        local: localProviderSchema.prefault({}),
        /** Replicas are pods made from each template's k8s/pod.yaml (manager/providers/kubernetes). */
        kubernetes: z
          .strictObject({
            /** A kubeconfig file; absent: KUBECONFIG, ~/.kube/config, then the in-cluster service account. */
            kubeconfig: z.string().min(1).optional(),
            /** A context of the kubeconfig; its current context when absent. */
            context: z.string().min(1).optional(),
            namespace: z
              .string()
              .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'is not a namespace name')
              .default('default'),
            /** Grace period of a pod deletion; the pod is then deleted with 0 if it is still there. */
            deleteGraceSeconds: z.number().int().min(0).max(3600).default(10),
            /** How clients and the manager reach a replica: its pod IP, or a per-pod ClusterIP Service. */
            expose: z.enum(['pod-ip', 'service']).default('pod-ip'),
            /** A pod not Ready this long after its creation is reported failed. */
            readyTimeoutSeconds: z.number().min(1).max(3600).default(180),
            /** Period of the readiness and deletion polls. */
            pollIntervalMs: z.number().int().min(10).max(60_000).default(1000),
            /** Budget of one API call. */
            requestTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
            /** Values of template placeholders beyond the provider's own (e.g. BROKEL_IMAGE, CREDENTIALS_SECRET). */
            placeholders: z
              .record(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'is not a PLACEHOLDER name'), z.string())
              .default({}),
          })
          .prefault({}),
        /** An OpenNebula-like REST API (docs/providers.md), e.g. `brokel cloud serve`. */
        opennebula: z
          .strictObject({
            url: z.url({ protocol: /^https?$/ }).optional(),
            /** Bearer token; or tokenFile, a file holding it. */
            token: z.string().min(1).optional(),
            tokenFile: z.string().min(1).optional(),
            /** Budget of one request (headers and body); a request that runs out is retried (GET, DELETE). */
            timeoutMs: z.number().int().min(50).max(600_000).default(10_000),
            /** Extra attempts after a 5xx answer (or a lost GET/DELETE), with exponential backoff. */
            retries: z.number().int().min(0).max(10).default(3),
            retryBaseMs: z.number().int().min(1).max(60_000).default(200),
            /** Period of the readiness poll. */
            pollIntervalMs: z.number().int().min(10).max(60_000).default(1000),
          })
          .prefault({}),
      })
      .superRefine((provider, ctx) => {
        if (provider.kind !== 'opennebula') return;
        const one = provider.opennebula;
        if (one.url === undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['opennebula', 'url'],
            message: 'is required when kind is opennebula',
          });
        if (one.token === undefined && one.tokenFile === undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['opennebula', 'token'],
            message: 'token or tokenFile is required when kind is opennebula',
          });
        if (one.token !== undefined && one.tokenFile !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['opennebula', 'tokenFile'],
            message: 'give token or tokenFile, not both',
          });
      })
      .prefault({}),
    /** Moving clients between orchestrators (docs/rebalancing.md). */
    rebalance: z
      .strictObject({
        /** Balanced when the busiest orchestrator has at most this many sessions more than the least busy… */
        absThreshold: z.number().int().min(0).default(100),
        /** …or at most this factor times its sessions. */
        relThreshold: z.number().min(1).max(100).default(1.1),
        /** Sessions one orchestrator sends away per second (rebalance and evacuation). */
        evictPerSecond: z.number().positive().max(100_000).default(100),
        /** A client is not moved again (nor a fresh one moved) within this long of connecting. */
        cooldownSeconds: z.number().min(0).max(86_400).default(60),
        /** Rebalance when an orchestrator joins. */
        afterJoin: z.boolean().default(true),
        /** After a round, time moved clients get to come back before the sessions are counted again. */
        settleSeconds: z.number().min(0).max(600).default(5),
        /** Budget of one rebalance run. */
        timeoutSeconds: z.number().min(1).max(86_400).default(300),
        /** Evacuation (orchestrator scale-in) ends at this, whoever is left is closed. */
        drainTimeoutSeconds: z.number().min(0).max(86_400).default(120),
      })
      .prefault({}),
    dns: dnsSchema.prefault({}),
    /** The manager API and dashboard (`api.listen`): status, metrics, the live dashboard at `/`. */
    api: z
      .strictObject({
        listen: hostPort.default('127.0.0.1:9780'),
        /**
         * Who may read status, metrics and the dashboard: `open` (anyone who reaches the listener),
         * `token` (the admin token as a bearer token, or the dashboard's cookie set by opening
         * `/?token=…` once), `auto` (`open` on a loopback listener, `token` otherwise). Writes
         * (POST /api/scale, /api/rebalance) always need the token.
         */
        readAccess: z.enum(['auto', 'open', 'token']).default('auto'),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    // A per-template setting for a template the pool never uses is a mistake, not a no-op.
    const templates = [config.levels.brokers.template].flat();
    for (const [field, template] of [
      ['acl', 'mosquitto'],
      ['topicPermissions', 'rabbitmq'],
    ] as const) {
      if (config.brokers[field] !== undefined && !templates.includes(template))
        ctx.addIssue({
          code: 'custom',
          path: ['brokers', field],
          message: `is for the ${template} template, and levels.brokers.template (${templates.join(', ')}) has none`,
        });
    }
    const floor = config.levels.brokers.min + config.levels.orchestrators.min;
    if (config.sla.maxReplicas < floor) {
      ctx.addIssue({
        code: 'custom',
        path: ['sla', 'maxReplicas'],
        message: `${config.sla.maxReplicas} is below the levels' minimums together (${floor})`,
      });
    }
    if (config.brokers.tls) {
      const templates = [config.levels.brokers.template].flat();
      const other = templates.find((t) => t !== 'mosquitto');
      if (other !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['brokers', 'tls'],
          message: `needs mosquitto brokers: the ${other} template has no TLS listener`,
        });
      if (config.provider.kind !== 'local')
        ctx.addIssue({
          code: 'custom',
          path: ['brokers', 'tls'],
          message: `needs provider.kind local (the replicas read the manager's CA files), not ${config.provider.kind}`,
        });
    }
    const apiHost = /^\[?(.*?)\]?:\d+$/.exec(config.api.listen)?.[1] ?? '';
    if (config.manager.adminToken === undefined && !isLoopbackHost(apiHost)) {
      ctx.addIssue({
        code: 'custom',
        path: ['manager', 'adminToken'],
        message: `is required when api.listen (${config.api.listen}) is not a loopback address`,
      });
    }
  });

export type BrokelConfig = z.infer<typeof configSchema>;
export type BrokelConfigInput = z.input<typeof configSchema>;
export type LocalProviderConfig = z.infer<typeof localProviderSchema>;
export type BrokerUser = z.infer<typeof brokerUserSchema>;
