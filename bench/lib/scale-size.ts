// How many clients the connection-scale run of bench:orchestrator starts when not told (pure): as many
// as the orchestrator's open-file limit allows with its routing, which decides the upstream links a
// client needs (issue #12: "as many clients as this machine's hard limit of 20,000 open files per
// process allows ... fewer links per client raise it").
import type { RoutingStrategyName } from '../../common/admin/contract.ts';

/** The run's mix (connection-scale.ts starts it): 10 % of the clients subscribe (to every broker), the rest publish. */
export const SUBSCRIBER_SHARE = 0.1;
/** Descriptors kept for what is not a client's: listeners, the admin API, stdio, libuv, files. */
export const RESERVED_FILES = 500;
/** Client counts are rounded down to this step. */
const STEP = 500;

/**
 * Sockets the orchestrator holds per client, on average: the client's own, and its upstream links. A
 * subscriber links to every broker; a publisher too under round-robin (it may need any), else to its
 * home broker only (a lazy session opens the rest only when it needs them: docs/data-plane.md).
 */
export function socketsPerClient(routing: RoutingStrategyName, brokers: number): number {
  const publisherLinks = routing === 'round-robin' ? brokers : 1;
  return 1 + SUBSCRIBER_SHARE * brokers + (1 - SUBSCRIBER_SHARE) * publisherLinks;
}

/** The most clients whose sockets fit in `fileLimit` besides RESERVED_FILES, in steps of 500. */
export function clientsForFileLimit(
  fileLimit: number,
  routing: RoutingStrategyName,
  brokers: number,
): number {
  const fit = (fileLimit - RESERVED_FILES) / socketsPerClient(routing, brokers);
  return Math.max(0, Math.floor(fit / STEP) * STEP);
}

/** The hard "Max open files" limit in a /proc/PID/limits text; undefined when unlimited or absent. */
export function hardFileLimit(limits: string): number | undefined {
  const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
  const hard = line?.trim().split(/\s+/)[4];
  const n = Number(hard);
  return hard === undefined || !Number.isSafeInteger(n) ? undefined : n;
}
