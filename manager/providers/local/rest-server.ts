import type { IncomingMessage } from 'node:http';
import { validate } from '../../../common/config/load.ts';
import { ConfigError, HttpError, ProviderError } from '../../../common/errors.ts';
import { bearerTokenMatches } from '../../../common/http/auth.ts';
import { MAX_BODY_BYTES, parseJson, type Reply, readBody } from '../../../common/http/http-io.ts';
import { startJsonServer } from '../../../common/http/json-server.ts';
import type { Logger } from '../../../common/logger.ts';
import type { CloudProvider, Replica } from '../cloud-provider.ts';
import { createVmSchema, labelsMatch, replicaToVm } from '../opennebula/rest-api.ts';
import { resolveCloudRoute } from './rest-routes.ts';

export interface CloudServerOptions {
  /** The provider exposed (the local one for `brokel cloud serve`). */
  provider: CloudProvider;
  host: string;
  /** 0 picks a free port; the bound one is returned. */
  port: number;
  /** Every request needs `Authorization: Bearer <token>`. */
  token: string;
  log: Logger;
}

export interface CloudServer {
  port: number;
  close(): Promise<void>;
}

/**
 * `brokel cloud serve`: a provider behind the OpenNebula-like REST API (opennebula/rest-api.ts), so
 * one machine acts as the cloud front-end of a manager running elsewhere. Labels given at creation
 * are kept in memory (a VM adopted after a restart only has its level and template labels).
 */
export async function startCloudServer(options: CloudServerOptions): Promise<CloudServer> {
  const { provider, log } = options;
  if (options.token.length === 0) throw new ConfigError([{ path: '--token', message: 'is empty' }]);
  const labels = new Map<string, Record<string, string>>();
  const labelsOf = (r: Replica) =>
    labels.get(r.id) ?? { 'brokel.io/level': r.level, 'brokel.io/template': r.template };
  const find = async (id: string) => (await provider.list()).find((r) => r.id === id);

  async function respond(req: IncomingMessage): Promise<Reply> {
    if (!bearerTokenMatches(req.headers.authorization, options.token)) {
      req.resume();
      throw new HttpError(401, 'missing or wrong bearer token');
    }
    const route = resolveCloudRoute(req.method, req.url);
    if (route.kind !== 'create') req.resume();
    switch (route.kind) {
      case 'bad-request':
        throw new HttpError(400, route.message);
      case 'not-found':
        throw new HttpError(404, `no route ${route.path}`);
      case 'wrong-method':
        return {
          status: 405,
          json: { error: `${req.method} is not allowed on ${route.path} (${route.allow})` },
          headers: { allow: route.allow },
        };
      case 'list': {
        const vms = (await provider.list())
          .filter((r) => labelsMatch(labelsOf(r), route.selector))
          .map((r) => replicaToVm(r, labelsOf(r), undefined));
        return { status: 200, json: { vms } };
      }
      case 'show': {
        const replica = await find(route.id);
        if (!replica) throw new HttpError(404, `no VM ${route.id}`);
        const usage = replica.state === 'failed' ? undefined : (await provider.cpu([route.id])).get(route.id);
        return { status: 200, json: replicaToVm(replica, labelsOf(replica), usage) };
      }
      case 'delete': {
        if (!(await find(route.id))) throw new HttpError(404, `no VM ${route.id}`);
        await provider.destroy(route.id);
        labels.delete(route.id);
        log.info({ vm: route.id }, 'VM deleted');
        return { status: 200, json: { id: route.id, deleted: true } };
      }
      case 'create': {
        const body = validate(createVmSchema, parseJson(await readBody(req, MAX_BODY_BYTES)), 'POST /vms');
        const replica = await provider.create(body.level, body.template, {
          ...(body.cpu === undefined ? {} : { cpuQuota: body.cpu }),
          ...(body.bootDelaySeconds === undefined ? {} : { bootDelaySeconds: body.bootDelaySeconds }),
          ...(body.params === undefined ? {} : { params: body.params }),
        });
        const vmLabels = {
          ...body.labels,
          'brokel.io/level': body.level,
          'brokel.io/template': body.template,
        };
        labels.set(replica.id, vmLabels);
        log.info({ vm: replica.id, template: body.template, ip: replica.host }, 'VM created');
        return { status: 201, json: replicaToVm(replica, vmLabels, undefined) };
      }
    }
  }

  const server = await startJsonServer({
    name: 'cloud',
    host: options.host,
    port: options.port,
    log,
    respond,
    requestTimeoutMs: 60_000,
    errorReply: (err) => {
      // The source (`POST /vms`) stays in the message; the default joins the problems only.
      if (err instanceof ConfigError)
        return { status: 400, json: { error: err.message, problems: err.problems } };
      // The provider could not do it (and cleaned up): worth a retry, possibly elsewhere.
      if (err instanceof ProviderError) return { status: 503, json: { error: err.message } };
      return undefined;
    },
  });
  log.info({ host: options.host, port: server.port }, 'cloud API listening');
  return server;
}
