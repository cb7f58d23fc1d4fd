import type { IncomingMessage } from 'node:http';
import { HttpError } from '../common/errors.ts';
import type { Reply } from '../common/http/http-io.ts';
import { type JsonServer, startJsonServer } from '../common/http/json-server.ts';
import type { Logger } from '../common/logger.ts';
import { requireTokenOffLoopback } from '../common/net/loopback.ts';
import { Registry } from '../common/prom.ts';
import { checkAccess, type ReadAccess, readsNeedToken, signIn } from './api-access.ts';
import { DashboardHub, type DashboardSources } from './dashboard/hub.ts';
import { dashboardFile } from './dashboard/static.ts';
import type { Manager } from './manager.ts';
import type { ManagerMetrics } from './metrics.ts';
import { prometheusTargets } from './prometheus-targets.ts';
import type { Level } from './providers/cloud-provider.ts';
import { handleScale } from './scale-route.ts';

export type ManagerApi = JsonServer;

/**
 * The manager's HTTP API: `GET /api/status` (levels, replicas with state and load, sessions per
 * orchestrator, thresholds, last decisions, a rebalance under way, config problems), `GET /metrics`
 * (Prometheus) and `GET /api/prometheus/targets` (the orchestrators, for Prometheus's HTTP discovery);
 * with a dashboard, `GET /` (the page), `/api/dashboard` (one snapshot) and `/api/events` (snapshots as
 * server-sent events); `POST /api/scale` (admin token) sets or clears a level's manual target;
 * `POST /api/rebalance` (admin token) starts a rebalance (docs/rebalancing.md). Bound to loopback by
 * default (`api.listen`); off loopback it refuses to start without an admin token, and reads need the
 * token too (`api.readAccess`, manager/api-access.ts).
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
  /** The live dashboard at `/` (read-only, same listener); none when absent. */
  dashboard?: DashboardSources;
  /** The deployment's admin token: writes need it (no write route without it); reads per `readAccess`. */
  adminToken?: string;
  /** `api.readAccess`: whether reads need the admin token (manager/api-access.ts); `auto` by default. */
  readAccess?: ReadAccess;
}): Promise<ManagerApi> {
  requireTokenOffLoopback(options.host, options.adminToken, 'manager.adminToken', 'api.listen');
  const hub = options.dashboard ? new DashboardHub(options.dashboard, options.log) : undefined;
  const registry =
    options.registries && options.registries.length > 0
      ? Registry.merge([options.metrics.registry, ...options.registries])
      : options.metrics.registry;
  const needToken = readsNeedToken(options.readAccess ?? 'auto', options.host);
  const respond = async (req: IncomingMessage): Promise<Reply> => {
    const url = new URL(req.url ?? '/', 'http://manager');
    const path = url.pathname;
    if (hub && req.method === 'GET') {
      const signedIn = signIn(url, options.adminToken);
      if (signedIn) return signedIn;
    }
    if (req.method === 'POST' && path === '/api/scale') {
      const set = (level: Level, target: number | undefined) =>
        options.manager.setManualTarget(level, target);
      return { status: 200, json: await handleScale(req, options.adminToken, set) };
    }
    req.resume();
    if (path === '/api/rebalance' && req.method === 'POST') {
      checkAccess(req, true, true, options.adminToken);
      return startRebalance(options.manager);
    }
    if (req.method !== 'GET') throw new HttpError(405, 'only GET (and POST /api/scale, /api/rebalance)');
    checkAccess(req, false, needToken, options.adminToken);
    if (path === '/api/status') {
      const status = { ...options.extra(), ...(await options.manager.status()) };
      return { status: 200, text: JSON.stringify(status, null, 2), contentType: 'application/json' };
    }
    if (path === '/metrics')
      return { status: 200, text: await registry.metrics(), contentType: registry.contentType };
    if (path === '/api/prometheus/targets') {
      const { levels } = await options.manager.status();
      return { status: 200, json: prometheusTargets(levels, String(options.extra().deployment ?? '')) };
    }
    if (hub && path === '/api/dashboard') return { status: 200, json: await hub.snapshot() };
    if (hub && path === '/api/events') {
      hub.checkRoom();
      return { status: 200, stream: (res) => hub.watch(res) };
    }
    const file = hub && path !== undefined ? await dashboardFile(path) : undefined;
    if (file) return file;
    throw new HttpError(404, `no route ${path}`);
  };
  const server = await startJsonServer({
    name: 'manager API',
    host: options.host,
    port: options.port,
    log: options.log,
    respond,
  });
  hub?.start();
  return {
    port: server.port,
    close: async () => {
      await hub?.stop();
      await server.close();
    },
  };
}

/** `POST /api/rebalance`: starts a rebalance (or joins the one under way); 202 with its progress. */
function startRebalance(manager: Pick<Manager, 'rebalance' | 'rebalanceStatus'>): Reply {
  void manager.rebalance('requested through the API').catch(() => undefined);
  return { status: 202, json: { rebalance: manager.rebalanceStatus() } };
}
