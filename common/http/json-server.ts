import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ConfigError, HttpError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { type Reply, send } from './http-io.ts';

export interface JsonServerOptions {
  /** For log lines and the 401 realm, e.g. `admin`, `geo-dns registry`. */
  name: string;
  host: string;
  /** 0 picks a free port; the bound one is returned. */
  port: number;
  log: Logger;
  /** Answers one request; throws HttpError (4xx) or ConfigError (400) to refuse it. */
  respond(req: IncomingMessage): Promise<Reply>;
  /** The server's own reading of an error, before the default one (undefined: the default). */
  errorReply?: (err: unknown) => Reply | undefined;
  /** Time a request (headers and body) may take; 30 s by default. */
  requestTimeoutMs?: number;
}

export interface JsonServer {
  port: number;
  close(): Promise<void>;
}

/** Time requests in progress get to finish when the server closes. */
const CLOSE_GRACE_MS = 2000;

/** What an error thrown by a handler becomes: 400 for bad input, its own 4xx, else an opaque 500. */
export function errorReply(err: unknown, realm: string): Reply {
  if (err instanceof ConfigError) {
    return {
      status: 400,
      json: { error: err.problems.map((p) => `${p.path}: ${p.message}`).join('; '), problems: err.problems },
    };
  }
  if (err instanceof HttpError && err.status >= 400 && err.status < 500) {
    const headers: Record<string, string> = {};
    if (err.status === 401) headers['www-authenticate'] = `Bearer realm="${realm}"`;
    if (err.status === 413) headers.connection = 'close';
    return { status: err.status, json: { error: err.message }, headers };
  }
  return { status: 500, json: { error: 'internal error' } };
}

/**
 * A small JSON-over-HTTP server edge shared by the admin and registry APIs: errors become replies,
 * one log line per refused or failed request (successful ones at debug), bounded timeouts, and a
 * close that lets requests in progress finish for a moment.
 */
export async function startJsonServer(options: JsonServerOptions): Promise<JsonServer> {
  const { log, name } = options;
  const realm = `brokel-${name.replace(/\s+/g, '-')}`;

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    res.on('error', (err) => log.debug({ err: err.message }, `${name} response error`));
    options
      .respond(req)
      .catch((err: unknown) => {
        const reply = options.errorReply?.(err) ?? errorReply(err, realm);
        if (reply.status >= 500)
          log.error({ err, method: req.method, url: req.url }, `${name} request failed`);
        return reply;
      })
      .then((reply) => {
        send(res, reply);
        const line = { method: req.method, path: req.url, status: reply.status };
        const ms = Math.round(performance.now() - started);
        if (reply.status >= 400 && reply.status < 500) {
          const error = 'json' in reply ? (reply.json as { error?: unknown }).error : undefined;
          log.warn({ ...line, error }, `${name} request refused`);
        } else log.debug({ ...line, ms }, `${name} request`);
      })
      .catch((err: unknown) => log.error({ err }, `${name} response failed`));
  }

  const server = createServer(
    { requestTimeout: options.requestTimeoutMs ?? 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 },
    handle,
  );
  server.on('clientError', (err, socket) => {
    log.debug({ err: err.message }, `${name} client error`);
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      server.on('error', (err) => log.error({ err }, `${name} listener error`));
      resolve((server.address() as { port: number }).port);
    });
  });
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
