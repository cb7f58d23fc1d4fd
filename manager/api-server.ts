import { createServer, type Server } from 'node:http';
import { Registry } from 'prom-client';
import type { Logger } from '../common/logger.ts';
import type { Manager } from './manager.ts';
import type { ManagerMetrics } from './metrics.ts';

export interface ManagerApi {
  port: number;
  close(): Promise<void>;
}

/**
 * The manager's read-only HTTP API: `GET /api/status` (levels, replicas with state and load,
 * thresholds, last decisions, config problems) and `GET /metrics` (Prometheus). Bound to loopback by
 * default (`api.listen`).
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
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(405, JSON.stringify({ error: 'only GET' }));
    if (path === '/api/status') {
      options.manager
        .status()
        .then((status) => send(200, JSON.stringify({ ...options.extra(), ...status }, null, 2)))
        .catch((err: unknown) => {
          options.log.error({ err: String(err) }, 'status failed');
          send(500, JSON.stringify({ error: 'internal error' }));
        });
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => send(200, text, registry.contentType),
        () => send(500, 'metrics failed', 'text/plain'),
      );
      return;
    }
    send(404, JSON.stringify({ error: `no route ${path}` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
