import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ConfigError, errorMessage, HttpError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { Orchestrator } from '../orchestrator.ts';
import { bearerTokenMatches } from './auth.ts';
import { MAX_BODY_BYTES, parseJson, type Reply, readBody, send } from './http-io.ts';
import { type RouteName, resolveRoute } from './routes.ts';
import { parseBrokersBody, parseDrainBody } from './schemas.ts';

/** What the admin API needs of an orchestrator (a real Orchestrator, or a fake in unit tests). */
export type AdminTarget = Pick<Orchestrator, 'status' | 'setBrokers' | 'drain' | 'metrics' | 'isDraining'>;

export interface AdminServerOptions {
  orchestrator: AdminTarget;
  host: string;
  /** 0 picks a free port; the bound one is returned. */
  port: number;
  /** When set, every route (health and metrics too) needs `Authorization: Bearer <token>`. */
  token?: string | undefined;
  log: Logger;
  maxBodyBytes?: number;
}

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

/** Time requests in progress get to finish when the server closes. */
const CLOSE_GRACE_MS = 2000;

/**
 * The orchestrator's admin HTTP API, used by the manager: status, pool changes, drain, health and
 * metrics. Handlers return a Reply; this edge does auth, body limits, errors and logging (one line
 * per failed request; successful ones only at debug).
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { orchestrator: target, log } = options;
  const token = options.token === '' ? undefined : options.token;
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

  function errorReply(err: unknown): Reply {
    if (err instanceof ConfigError) {
      return {
        status: 400,
        json: {
          error: err.problems.map((p) => `${p.path}: ${p.message}`).join('; '),
          problems: err.problems,
        },
      };
    }
    if (err instanceof HttpError && err.status >= 400 && err.status < 500) {
      const headers: Record<string, string> = {};
      if (err.status === 401) headers['www-authenticate'] = 'Bearer realm="brokel-orchestrator"';
      if (err.status === 413) headers.connection = 'close';
      return { status: err.status, json: { error: err.message }, headers };
    }
    return { status: 500, json: { error: 'internal error' } };
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    res.on('error', (err) => log.debug({ err: err.message }, 'admin response error'));
    respond(req)
      .catch((err: unknown) => {
        const reply = errorReply(err);
        if (reply.status >= 500) log.error({ err, method: req.method, url: req.url }, 'admin request failed');
        return reply;
      })
      .then((reply) => {
        send(res, reply);
        const line = { method: req.method, path: req.url, status: reply.status };
        const ms = Math.round(performance.now() - started);
        if (reply.status >= 400 && reply.status < 500) {
          const error = 'json' in reply ? (reply.json as { error?: unknown }).error : undefined;
          log.warn({ ...line, error }, 'admin request refused');
        } else log.debug({ ...line, ms }, 'admin request');
      })
      .catch((err: unknown) => log.error({ err }, 'admin response failed'));
  }

  const server = createServer(
    { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 },
    handle,
  );
  server.on('clientError', (err, socket) => {
    log.debug({ err: err.message }, 'admin client error');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      server.on('error', (err) => log.error({ err }, 'admin listener error'));
      resolve((server.address() as { port: number }).port);
    });
  });
  log.info({ host: options.host, port, auth: token !== undefined }, 'admin API listening');

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
