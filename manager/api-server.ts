import type { IncomingMessage } from 'node:http';
import { Registry } from 'prom-client';
import { HttpError } from '../common/errors.ts';
import type { Reply } from '../common/http/http-io.ts';
import { type JsonServer, startJsonServer } from '../common/http/json-server.ts';
import type { Logger } from '../common/logger.ts';
import type { Manager } from './manager.ts';
import type { ManagerMetrics } from './metrics.ts';

export type ManagerApi = JsonServer;

/**
 * The manager's HTTP API: `GET /api/status` (levels, replicas with state and load, sessions per
 * orchestrator, thresholds, last decisions, a rebalance under way, config problems), `GET /metrics`
 * (Prometheus) and `POST /api/rebalance` (docs/rebalancing.md). Bound to loopback by default
 * (`api.listen`).
 */
export async function startManagerApi(options: {
  manager: Manager;
  metrics: ManagerMetrics;
  host: string;
  port: number;
  log: Logger;
  extra: () => Record<string, unknown>;
  /** Registries of services in the same process (the in-process geo-dns), served with the manager's. */
  registries?: Registry[];
}): Promise<ManagerApi> {
  const registry =
    options.registries && options.registries.length > 0
      ? Registry.merge([options.metrics.registry, ...options.registries])
      : options.metrics.registry;
  const respond = async (req: IncomingMessage): Promise<Reply> => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/api/rebalance' && req.method === 'POST') return startRebalance(options.manager);
    if (req.method !== 'GET') throw new HttpError(405, 'only GET');
    if (path === '/api/status') {
      const status = { ...options.extra(), ...(await options.manager.status()) };
      return { status: 200, text: JSON.stringify(status, null, 2), contentType: 'application/json' };
    }
    if (path === '/metrics')
      return { status: 200, text: await registry.metrics(), contentType: registry.contentType };
    throw new HttpError(404, `no route ${path}`);
  };
  return startJsonServer({
    name: 'manager API',
    host: options.host,
    port: options.port,
    log: options.log,
    respond,
  });
}

/** `POST /api/rebalance`: starts a rebalance (or joins the one under way); 202 with its progress. */
function startRebalance(manager: Pick<Manager, 'rebalance' | 'rebalanceStatus'>): Reply {
  void manager.rebalance('requested through the API').catch(() => undefined);
  return { status: 202, json: { rebalance: manager.rebalanceStatus() } };
}
