import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { TestContext } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { defer } from './remote-provider.ts';

/**
 * A local stand-in for the Kubernetes API server (node:http), faithful enough for
 * @kubernetes/client-node to run unmodified against it: pods (create, list by label selector, get,
 * merge-patch, delete with a grace period), per-pod Services, metrics.k8s.io PodMetrics, bearer
 * auth, and errors as v1 Status objects (401, 403, 404, 409, 415, 429). A simulated kubelet marks a
 * pod Running and Ready with a pod IP shortly after creation.
 *
 * Not covered (a real cluster is needed): scheduling, images, real probes and containers, watch,
 * resourceVersion conflicts, field selectors, set-based selectors (`in`, `notin`), admission,
 * strategic-merge semantics (treated as a merge patch), RBAC beyond the `forbid` switch.
 */

// biome-ignore lint/suspicious/noExplicitAny: the stand-in edits arbitrary API objects (JSON) in place.
type Obj = Record<string, any>;
export type KubeletVerdict = 'ready' | 'pending' | 'image-pull-backoff' | 'crash';

export interface StandInRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  body: unknown;
}

function status(code: number, reason: string, message: string, details?: Obj): Obj {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
    details,
  };
}

/** RFC 3339 with seconds, like the API server. */
function timestamp(ms = Date.now()): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Equality-based selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated (all must hold). */
export function matchesSelector(labels: Record<string, string>, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const t = term.trim();
    const ne = /^([^!=]+)!=(.*)$/.exec(t);
    if (ne?.[1] !== undefined) return labels[ne[1]] !== ne[2];
    const eq = /^([^!=]+)==?(.*)$/.exec(t);
    if (eq?.[1] !== undefined) return labels[eq[1]] === eq[2];
    if (t.startsWith('!')) return !(t.slice(1) in labels);
    return t in labels;
  });
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Obj = target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class K8sStandIn {
  readonly pods = new Map<string, Obj>();
  readonly services = new Map<string, Obj>();
  readonly requests: StandInRequest[] = [];
  /** CPU usage quantity per pod name (metrics-server's view); pods without one have no metrics yet. */
  readonly cpuUsage = new Map<string, string>();
  /** Decides what the simulated kubelet does with a new pod. */
  kubelet: (pod: Obj) => KubeletVerdict = () => 'ready';
  kubeletDelayMs = 30;
  /** Time a pod takes to stop once deleted with a grace period (its container exiting on SIGTERM). */
  terminationMs = 50;
  /** Pods that ignore SIGTERM: they only leave when deleted with gracePeriodSeconds=0. */
  stuckOnTermination = false;
  /** false: the metrics.k8s.io group is not served (no metrics-server). */
  metricsServer = true;
  private readonly forbidden = new Set<string>();
  private throttled = 0;
  private ipSeq = 0;
  private rv = 1000;
  private readonly timers = new Set<NodeJS.Timeout>();
  port = 0;

  constructor(readonly token: string) {}

  /** Refuses `verb` on `resource` (e.g. 'delete', 'pods') with 403, as RBAC would. */
  forbid(verb: string, resource: string): void {
    this.forbidden.add(`${verb} ${resource}`);
  }

  /** The next `n` requests get 429 TooManyRequests with Retry-After: 0. */
  throttle(n: number): void {
    this.throttled = n;
  }

  kubeConfig(token = this.token, namespace = 'brokel-test'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'stand-in', server: `http://127.0.0.1:${this.port}`, skipTLSVerify: true }],
      users: [{ name: 'manager', token }],
      contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'manager', namespace }],
      currentContext: 'stand-in',
    });
    return kc;
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private runKubelet(key: string): void {
    const pod = this.pods.get(key);
    if (!pod || pod.metadata.deletionTimestamp) return;
    const verdict = this.kubelet(pod);
    const now = timestamp();
    const containers = (pod.spec.containers as Obj[]).map((c) => c.name as string);
    pod.metadata.resourceVersion = String(++this.rv);
    if (verdict === 'pending') return;
    if (verdict === 'image-pull-backoff') {
      pod.status.containerStatuses = containers.map((name) => ({
        name,
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } },
      }));
      return;
    }
    this.ipSeq += 1;
    pod.status.podIP = `10.244.${Math.floor(this.ipSeq / 250)}.${(this.ipSeq % 250) + 1}`;
    pod.status.podIPs = [{ ip: pod.status.podIP }];
    pod.status.hostIP = '172.18.0.2';
    pod.status.startTime = now;
    if (verdict === 'crash') {
      pod.status.phase = 'Failed';
      pod.status.containerStatuses = containers.map((name) => ({
        name,
        ready: false,
        restartCount: 0,
        state: { terminated: { exitCode: 1, reason: 'Error', startedAt: now, finishedAt: now } },
      }));
      return;
    }
    pod.status.phase = 'Running';
    pod.status.conditions = [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: pod.metadata.creationTimestamp },
      { type: 'Initialized', status: 'True', lastTransitionTime: now },
      { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
      { type: 'Ready', status: 'True', lastTransitionTime: now },
    ];
    pod.status.containerStatuses = containers.map((name) => ({
      name,
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: now } },
    }));
  }

  private handle(req: StandInRequest): [number, Obj, Record<string, string>?] {
    const { method, path } = req;
    let m = /^\/api\/v1\/namespaces\/([^/]+)\/(pods|services)(?:\/([^/]+))?$/.exec(path);
    const metrics = /^\/apis\/metrics\.k8s\.io\/v1beta1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/.exec(path);
    if (metrics) {
      if (!this.metricsServer)
        return [404, status(404, 'NotFound', 'the server could not find the requested resource')];
      m = null;
      return this.metrics(method, metrics[1] ?? '', metrics[2], req.query.get('labelSelector'));
    }
    if (!m) return [404, status(404, 'NotFound', 'the server could not find the requested resource')];
    const [, ns = '', resource = '', name] = m;
    const verb =
      method === 'POST'
        ? 'create'
        : method === 'GET'
          ? name
            ? 'get'
            : 'list'
          : method === 'PATCH'
            ? 'patch'
            : method === 'DELETE'
              ? 'delete'
              : '';
    if (this.forbidden.has(`${verb} ${resource}`)) {
      return [
        403,
        status(
          403,
          'Forbidden',
          `${resource}${name ? ` "${name}"` : ''} is forbidden: User "system:serviceaccount:brokel:brokel-manager" cannot ${verb} resource "${resource}" in API group "" in the namespace "${ns}"`,
          { name, kind: resource },
        ),
      ];
    }
    const store = resource === 'pods' ? this.pods : this.services;
    const key = `${ns}/${name ?? ''}`;
    const notFound = (): [number, Obj] => [
      404,
      status(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource }),
    ];
    if (verb === 'list') {
      const items = [...store.entries()]
        .filter(
          ([k, o]) =>
            k.startsWith(`${ns}/`) &&
            matchesSelector(o.metadata.labels ?? {}, req.query.get('labelSelector')),
        )
        .map(([, o]) => o);
      const kind = resource === 'pods' ? 'PodList' : 'ServiceList';
      return [200, { kind, apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items }];
    }
    if (verb === 'get') return store.has(key) ? [200, store.get(key) as Obj] : notFound();
    if (verb === 'create') return this.create(resource, ns, req.body as Obj);
    if (verb === 'patch') {
      const obj = store.get(key);
      if (!obj) return notFound();
      const type = req.contentType?.split(';')[0]?.trim();
      if (type === 'application/json-patch+json' && !Array.isArray(req.body))
        return [
          400,
          status(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch'),
        ];
      if (type !== 'application/merge-patch+json' && type !== 'application/strategic-merge-patch+json')
        return [
          415,
          status(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
          ),
        ];
      const patched = mergePatch(obj, req.body) as Obj;
      patched.metadata.resourceVersion = String(++this.rv);
      store.set(key, patched);
      return [200, patched];
    }
    if (verb === 'delete') {
      const obj = store.get(key);
      if (!obj) return notFound();
      if (resource === 'services') {
        store.delete(key);
        return [200, obj];
      }
      const body = req.body as Obj | undefined;
      const given = req.query.get('gracePeriodSeconds') ?? body?.gracePeriodSeconds;
      const grace =
        given === undefined || given === null
          ? (obj.spec.terminationGracePeriodSeconds ?? 30)
          : Number(given);
      if (grace === 0) {
        store.delete(key);
        return [200, obj];
      }
      if (!obj.metadata.deletionTimestamp) {
        obj.metadata.deletionTimestamp = timestamp(Date.now() + grace * 1000);
        obj.metadata.deletionGracePeriodSeconds = grace;
        obj.metadata.resourceVersion = String(++this.rv);
        if (!this.stuckOnTermination)
          this.later(Math.min(grace * 1000, this.terminationMs), () => store.delete(key));
      }
      return [200, obj];
    }
    return [
      405,
      status(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`),
    ];
  }

  private create(resource: string, ns: string, body: Obj | undefined): [number, Obj] {
    const kind = resource === 'pods' ? 'Pod' : 'Service';
    const name = body?.metadata?.name;
    if (!body || body.kind !== kind || typeof name !== 'string')
      return [400, status(400, 'BadRequest', `the body is not a ${kind} with metadata.name`)];
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63)
      return [
        422,
        status(422, 'Invalid', `${kind} "${name}" is invalid: metadata.name: a lowercase RFC 1123 label`),
      ];
    if (body.metadata.namespace !== undefined && body.metadata.namespace !== ns)
      return [
        400,
        status(
          400,
          'BadRequest',
          'the namespace of the provided object does not match the namespace sent on the request',
        ),
      ];
    const store = resource === 'pods' ? this.pods : this.services;
    const key = `${ns}/${name}`;
    if (store.has(key))
      return [
        409,
        status(409, 'AlreadyExists', `${resource} "${name}" already exists`, { name, kind: resource }),
      ];
    const now = timestamp();
    const obj: Obj = {
      ...body,
      apiVersion: 'v1',
      metadata: {
        ...body.metadata,
        namespace: ns,
        uid: randomUUID(),
        resourceVersion: String(++this.rv),
        creationTimestamp: now,
      },
    };
    if (resource === 'pods') {
      obj.status = {
        phase: 'Pending',
        qosClass: 'Burstable',
        conditions: [
          { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
          { type: 'Ready', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: now },
        ],
      };
      this.later(this.kubeletDelayMs, () => this.runKubelet(key));
    } else {
      obj.spec = { ...obj.spec, clusterIP: `10.96.0.${store.size + 10}` };
    }
    store.set(key, obj);
    return [201, obj];
  }

  private metrics(
    method: string,
    ns: string,
    name: string | undefined,
    selector: string | null,
  ): [number, Obj] {
    if (method !== 'GET') return [405, status(405, 'MethodNotAllowed', 'metrics are read-only')];
    const podMetrics = (pod: Obj): Obj => ({
      metadata: {
        name: pod.metadata.name,
        namespace: ns,
        labels: pod.metadata.labels,
        creationTimestamp: timestamp(),
      },
      timestamp: timestamp(),
      window: '15s',
      containers: (pod.spec.containers as Obj[]).map((c, i) => ({
        name: c.name,
        usage: { cpu: i === 0 ? (this.cpuUsage.get(pod.metadata.name) ?? '0') : '0', memory: '4Mi' },
      })),
    });
    const withMetrics = (pod: Obj) => pod.status?.phase === 'Running' && this.cpuUsage.has(pod.metadata.name);
    if (name !== undefined) {
      const pod = this.pods.get(`${ns}/${name}`);
      if (!pod || !withMetrics(pod))
        return [404, status(404, 'NotFound', `podmetrics.metrics.k8s.io "${name}" not found`)];
      return [200, { kind: 'PodMetrics', apiVersion: 'metrics.k8s.io/v1beta1', ...podMetrics(pod) }];
    }
    const items = [...this.pods.entries()]
      .filter(
        ([k, p]) =>
          k.startsWith(`${ns}/`) && withMetrics(p) && matchesSelector(p.metadata.labels ?? {}, selector),
      )
      .map(([, p]) => podMetrics(p));
    return [200, { kind: 'PodMetricsList', apiVersion: 'metrics.k8s.io/v1beta1', metadata: {}, items }];
  }

  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://stand-in');
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    const request: StandInRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      contentType: req.headers['content-type'],
      body,
    };
    this.requests.push(request);
    let reply: [number, Obj, Record<string, string>?];
    if (req.headers.authorization !== `Bearer ${this.token}`)
      reply = [401, status(401, 'Unauthorized', 'Unauthorized')];
    else if (this.throttled > 0) {
      this.throttled -= 1;
      reply = [
        429,
        status(429, 'TooManyRequests', 'too many requests, please try again later'),
        { 'retry-after': '0' },
      ];
    } else reply = this.handle(request);
    const [code, json, headers] = reply;
    const payload = JSON.stringify(json);
    res.writeHead(code, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
      ...headers,
    });
    res.end(payload);
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

/** A stand-in on 127.0.0.1:0, closed at teardown. */
export async function startK8sStandIn(
  t: TestContext,
  token = 'stand-in-token-0123456789',
): Promise<K8sStandIn> {
  const standIn = new K8sStandIn(token);
  const server = createServer((req, res) => {
    standIn.serve(req, res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  standIn.port = (server.address() as { port: number }).port;
  defer(
    t,
    () =>
      new Promise<void>((resolve) => {
        standIn.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return standIn;
}
