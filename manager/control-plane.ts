import type { BrokelConfig } from '../common/config/schema.ts';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { BrokerTlsFiles } from './broker-tls.ts';
import { DecisionLog } from './decision-log.ts';
import { type DnsRegistry, NoDnsRegistry } from './dns-registry.ts';
import { Manager } from './manager.ts';
import { fileTargetStore } from './manual-targets.ts';
import { managerMetrics } from './metrics.ts';
import type { CloudProvider } from './providers/cloud-provider.ts';
import { Topology } from './topology.ts';

/**
 * Wires the control plane over a provider: topology actions, metrics, decision log and the loop.
 * `config` is read on every tick, so the caller can swap it (hot reload).
 */
export function assembleControlPlane(options: {
  provider: CloudProvider;
  config: () => BrokelConfig;
  decisionLogFile: string;
  /** Shared with the orchestrators (see deploymentAdminToken). */
  adminToken: string;
  log: Logger;
  dns?: DnsRegistry;
  /** The deployment's state dir: the manual targets (`brokel scale`) are kept there across restarts. */
  stateDir?: string;
  /** brokers.tls: the deployment's broker CA (manager/broker-tls.ts). */
  brokerTls?: BrokerTlsFiles;
}) {
  const initial = options.config();
  const metrics = managerMetrics();
  const decisionLog = new DecisionLog(options.decisionLogFile, (err) => {
    metrics.decisionLogErrors.inc();
    options.log.error({ file: options.decisionLogFile, err: errorMessage(err) }, 'decision log write failed');
  });
  decisionLog.touch();
  const topology = new Topology({
    provider: options.provider,
    dns: options.dns ?? new NoDnsRegistry(),
    log: options.log.child({ component: 'topology' }),
    adminToken: options.adminToken,
    actionTimeoutMs: initial.manager.actionTimeoutSeconds * 1000,
    drainQuietMs: initial.manager.drainQuietSeconds * 1000,
    routing: initial.routing,
    qos2OnBrokerLoss: initial.limits.qos2OnBrokerLoss,
    connects: {
      connectsPerSecond: initial.limits.connectsPerSecond,
      maxQueuedConnects: initial.limits.maxQueuedConnects,
      maxPendingConnections: initial.limits.maxPendingConnections,
    },
    upstreamLinkGraceSeconds: initial.limits.upstreamLinkGraceSeconds,
    ackHoldMs: initial.limits.ackHoldMs,
    users: initial.brokers.users,
    ...(options.brokerTls ? { brokerTls: options.brokerTls } : {}),
    rebalance: () => options.config().rebalance,
    ...(initial.dns.site ? { site: initial.dns.site } : {}),
  });
  const manager = new Manager({
    provider: options.provider,
    topology,
    config: options.config,
    log: options.log.child({ component: 'manager' }),
    decisionLog,
    metrics,
    ...(options.stateDir === undefined ? {} : { targets: fileTargetStore(options.stateDir) }),
  });
  return { manager, topology, metrics, decisionLog };
}
