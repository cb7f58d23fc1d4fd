import type { IncomingMessage } from 'node:http';
import { HttpError } from '../common/errors.ts';
import { bearerTokenMatches } from '../common/http/auth.ts';
import { MAX_BODY_BYTES, parseJson, type Reply, readBody } from '../common/http/http-io.ts';
import { type JsonServer, startJsonServer } from '../common/http/json-server.ts';
import type { Logger } from '../common/logger.ts';
import type { DnsMetrics } from './metrics.ts';
import type { OrchestratorDirectory, OrchestratorRecord } from './records.ts';

const RECORD_PATH = /^\/records\/([^/?#]+)$/;

/**
 * The standalone server's registry API, for a manager that is not in the same process:
 * `GET /records`, `PUT /records/:id` (a record as JSON), `DELETE /records/:id`, all with
 * `Authorization: Bearer <token>`; `GET /healthz` and `GET /metrics` without.
 */
export async function startRegistryApi(options: {
  directory: OrchestratorDirectory;
  metrics: DnsMetrics;
  host: string;
  port: number;
  token: string;
  log: Logger;
}): Promise<JsonServer> {
  const { directory, token } = options;
  const respond = async (req: IncomingMessage): Promise<Reply> => {
    const path = (req.url ?? '/').replace(/[?#].*$/, '');
    if (req.method === 'GET' && path === '/healthz') return { status: 200, json: { ok: true } };
    if (req.method === 'GET' && path === '/metrics') {
      const registry = options.metrics.registry;
      return { status: 200, text: await registry.metrics(), contentType: registry.contentType };
    }
    if (!bearerTokenMatches(req.headers.authorization, token)) {
      req.resume();
      throw new HttpError(401, 'missing or wrong bearer token');
    }
    if (path === '/records') {
      req.resume();
      if (req.method !== 'GET') throw new HttpError(405, `${req.method} is not allowed on /records (GET)`);
      return { status: 200, json: { records: directory.list() } };
    }
    const match = RECORD_PATH.exec(path);
    if (!match) {
      req.resume();
      throw new HttpError(404, `no route ${path}`);
    }
    const id = decodeURIComponent(match[1] ?? '');
    if (req.method === 'DELETE') {
      req.resume();
      await directory.remove(id);
      return { status: 204, text: '', contentType: 'text/plain' };
    }
    if (req.method !== 'PUT') {
      req.resume();
      throw new HttpError(405, `${req.method} is not allowed on /records/:id (PUT, DELETE)`);
    }
    const body = parseJson(await readBody(req, MAX_BODY_BYTES));
    if (typeof body !== 'object' || body === null)
      throw new HttpError(400, 'request body must be a JSON record');
    const record = { ...(body as Record<string, unknown>), id } as OrchestratorRecord;
    await directory.upsert(record);
    return { status: 200, json: { record } };
  };
  const server = await startJsonServer({ name: 'geo-dns registry', ...options, respond });
  options.log.info({ host: options.host, port: server.port }, 'geo-dns registry API listening');
  return server;
}
