import { ConfigError } from '../errors.ts';
import type { EvictionStatus } from '../eviction-contract.ts';

/**
 * The manager → orchestrator admin contract (ARCHITECTURE.md, "Moving clients"): the desired pool the
 * manager PUTs and the status it reads back. Types and pure code only; imported by both sides, so the
 * manager never imports `orchestrator/`.
 */

/** How an orchestrator picks the broker for a publish (orchestrator/routing/strategies.ts). */
export const ROUTING_STRATEGY_NAMES = [
  'round-robin',
  'least-outstanding',
  'client-affinity',
  'topic-affinity',
] as const;
export type RoutingStrategyName = (typeof ROUTING_STRATEGY_NAMES)[number];

export const isRoutingStrategy = (name: string): name is RoutingStrategyName =>
  (ROUTING_STRATEGY_NAMES as readonly string[]).includes(name);

/** Whether a strategy spreads one client's publishes over every broker (no order across brokers). */
export const spreadsOverBrokers = (strategy: RoutingStrategyName): boolean =>
  strategy === 'round-robin' || strategy === 'least-outstanding';

export type BrokerState = 'joining' | 'active' | 'draining';

export interface DesiredBroker {
  url: string;
  state: BrokerState;
  /** Hold retained publishes whose owner changes with this broker (docs/retained-moves.md). */
  retainedFence?: boolean;
  /**
   * false: the broker sends no retained message to a wildcard subscription (RabbitMQ 3.10; the
   * template's retainedWildcardRead), so the session registry cannot be listed from it. Absent: true.
   */
  retainedWildcardRead?: boolean;
}

/** Parses `mqtt://host:port` (IPv6 in brackets); throws a ConfigError naming the field. */
export function parseBrokerUrl(
  url: string,
  path = 'url',
): { id: string; host: string; port: number; url: string; tls: boolean } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError([{ path, message: `${JSON.stringify(url)} is not a URL (mqtt://host:port)` }]);
  }
  if (parsed.protocol !== 'mqtt:' && parsed.protocol !== 'mqtts:') {
    throw new ConfigError([
      { path, message: `${JSON.stringify(url)}: only mqtt:// and mqtts:// (TLS) brokers are supported` },
    ]);
  }
  const tls = parsed.protocol === 'mqtts:';
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = parsed.port === '' ? (tls ? 8883 : 1883) : Number(parsed.port);
  if (host === '') throw new ConfigError([{ path, message: `${JSON.stringify(url)} has no host` }]);
  const id = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { id, host, port, url: `${tls ? 'mqtts' : 'mqtt'}://${id}`, tls };
}

export interface BrokerStatus {
  id: string;
  url: string;
  state: BrokerState;
  /** The manager is moving retained messages to or from it (docs/retained-moves.md). */
  retainedFence: boolean;
  /**
   * With the fence: retained QoS 1/2 publishes on the topics it covers, sent before it and not yet
   * finished at their broker. The manager copies only once every orchestrator reports 0.
   */
  retainedUnsettled: number;
  /** Every connected session has this broker's subscriptions in place. */
  synced: boolean;
  /** Sessions connected to it now. */
  sessions: number;
  /** Client publishes routed to it and not yet acknowledged by it. */
  inflight: number;
  published: number;
  delivered: number;
}

export interface OrchestratorStatus {
  draining: boolean;
  sessions: number;
  routing: RoutingStrategyName;
  brokers: BrokerStatus[];
  /** CPU this process used over the last second, as a fraction of one core. */
  cpu: number;
  /** The eviction under way, or the last one (POST /evict); absent when there was none. */
  eviction?: EvictionStatus;
  /** Occupancy of the bounded per-session buffers (limits in README, "Orchestrator limits"). */
  buffers: {
    inflightFromClients: number;
    deliveriesInflight: number;
    deliveriesBuffered: number;
    maxSessionBuffered: number;
  };
}
