import type { IncomingMessage } from 'node:http';
import { parseBrokersBody, parseDrainBody, parseEvictBody } from '../../common/admin/schemas.ts';
import { errorMessage, HttpError } from '../../common/errors.ts';
import { bearerTokenMatches } from '../../common/http/auth.ts';
import { MAX_BODY_BYTES, parseJson, type Reply, readBody } from '../../common/http/http-io.ts';
import { startJsonServer } from '../../common/http/json-server.ts';
import type { Logger } from '../../common/logger.ts';
import { requireTokenOffLoopback } from '../../common/net/loopback.ts';
import type { Orchestrator } from '../orchestrator.ts';
import { type RouteName, resolveRoute } from './routes.ts';

/** What the admin API needs of an orchestrator (a real Orchestrator, or a fake in unit tests). */
export type AdminTarget = Pick<
  Orchestrator,
  'status' | 'setBrokers' | 'drain' | 'evict' | 'metrics' | 'isDraining'
>;

export interface AdminServerOptions {
  orchestrator: AdminTarget;
  host: string;
  /** 0 picks a free port; the bound one is returned. */
  port: number;
  /**
   * When set, every route (health and metrics too) needs `Authorization: Bearer <token>`. Required
   * when `host` is not a loopback address (a ConfigError otherwise).
   */
  token?: string | undefined;
  log: Logger;
  maxBodyBytes?: number;
}

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The orchestrator's admin HTTP API, used by the manager: status, pool changes, drain, eviction, health and
 * metrics. Handlers return a Reply; this edge does auth, body limits, errors and logging (one line
 * per failed request; successful ones only at debug).
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { orchestrator: target, log } = options;
  const token = options.token === '' ? undefined : options.token;
  requireTokenOffLoopback(options.host, token, 'token', 'host'); // no open admin API off this machine
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;

  const handlers: Record<RouteName, (body: unknown) => Promise<Reply> | Reply> = {
    status: () => ({ status: 200, json: target.status() }),
    brokers: (body) => {
      if (body === undefined) throw new HttpError(400, 'request body is required: { "brokers": [...] }');
      const changes = target.setBrokers(parseBrokersBody(body));
      return { status: 200, json: { ...changes, status: target.status() } };
    },
    drain: (body) => {
      const request = parseDrainBody(body);
      if (!target.isDraining) {
        log.info(request, 'drain requested');
        target.drain(request.serverReference, request.graceMs).catch((err: unknown) => {
          log.error({ err: errorMessage(err) }, 'drain failed');
        });
      }
      return { status: 202, json: { draining: true } };
    },
    evict: (body) => {
      const request = parseEvictBody(body);
      log.info({ ...request, moves: request.moves.length }, 'eviction requested');
      return { status: 202, json: target.evict(request) };
    },
    healthz: () => {
      const draining = target.isDraining;
      return { status: draining ? 503 : 200, json: { ok: !draining, draining } };
    },
    metrics: async () => ({
      status: 200,
      text: await target.metrics.registry.metrics(),
      contentType: target.metrics.registry.contentType,
    }),
  };

  async function respond(req: IncomingMessage): Promise<Reply> {
    if (token !== undefined && !bearerTokenMatches(req.headers.authorization, token)) {
      req.resume();
      throw new HttpError(401, 'missing or wrong bearer token');
    }
    const match = resolveRoute(req.method, req.url);
    if (match.kind !== 'route' || !match.body) req.resume(); // a body nobody reads is discarded
    if (match.kind === 'not-found') throw new HttpError(404, `no route ${match.path}`);
    if (match.kind === 'wrong-method') {
      return {
        status: 405,
        json: { error: `${req.method} is not allowed on ${match.path} (${match.allow})` },
        headers: { allow: match.allow },
      };
    }
    const body = match.body ? parseJson(await readBody(req, maxBodyBytes)) : undefined;
    return handlers[match.name](body);
  }

  const server = await startJsonServer({
    name: 'admin',
    host: options.host,
    port: options.port,
    log,
    respond,
  });
  const port = server.port;
  log.info({ host: options.host, port, auth: token !== undefined }, 'admin API listening');

  return server;
}
