import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  type V1Service,
} from '@kubernetes/client-node';
import { ProviderError } from '../../../common/errors.ts';
import { isRetryableStatus, kubeError, kubeErrorStatus, kubeStatus, retryAfterMs } from './api-errors.ts';
import type { PodMetrics } from './pod-state.ts';

export interface KubeApiOptions {
  namespace: string;
  /** Budget of one call (client-node 1.4.0 has no timeout of its own). */
  requestTimeoutMs: number;
  /** Attempts of a call answered 429 / 5xx / not at all (reads and deletes; creates only on 429). */
  attempts?: number;
}

/**
 * The Kubernetes API calls the provider makes, through @kubernetes/client-node unmodified:
 *
 *   POST   /api/v1/namespaces/NS/pods                          create a replica's pod
 *   GET    /api/v1/namespaces/NS/pods?labelSelector=...        list the deployment's pods
 *   GET    /api/v1/namespaces/NS/pods/NAME                     read one (readiness poll)
 *   PATCH  /api/v1/namespaces/NS/pods/NAME                     annotate draining (merge patch)
 *   DELETE /api/v1/namespaces/NS/pods/NAME?gracePeriodSeconds  delete (grace, then 0)
 *   GET    /apis/metrics.k8s.io/v1beta1/namespaces/NS/pods?labelSelector=...   CPU
 *   POST/GET/DELETE /api/v1/namespaces/NS/services[...]        only with expose: service
 *
 * Errors become ProviderErrors naming the call (api-errors.ts); 429 waits for Retry-After.
 */
export class KubeApi {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly ns: string;

  constructor(
    kubeConfig: KubeConfig,
    private readonly o: KubeApiOptions,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.ns = o.namespace;
  }

  /** One call with a timeout and bounded retries; `idempotent` calls also retry 5xx and no answer. */
  private async call<T>(what: string, idempotent: boolean, run: () => Promise<T>): Promise<T> {
    const attempts = this.o.attempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new ProviderError(`kubernetes: ${what} → no answer within ${this.o.requestTimeoutMs} ms`, {
                code: 'timeout',
                retryable: true,
              }),
            ),
          this.o.requestTimeoutMs,
        );
      });
      try {
        return await Promise.race([run(), timeout]);
      } catch (err) {
        const timedOut = err instanceof ProviderError;
        const code = timedOut ? 0 : kubeStatus(err).code;
        const again = code === 429 || (idempotent && isRetryableStatus(code));
        if (!again || attempt >= attempts) throw timedOut ? err : kubeError(what, err);
        await sleep(retryAfterMs(err, 5000) ?? 100 * 2 ** attempt);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  createPod(pod: V1Pod): Promise<V1Pod> {
    const name = pod.metadata?.name ?? '?';
    return this.call(`create pods/${name}`, false, () =>
      this.core.createNamespacedPod({ namespace: this.ns, body: pod }),
    );
  }

  async listPods(labelSelector: string): Promise<V1Pod[]> {
    const list = await this.call(`list pods -l ${labelSelector}`, true, () =>
      this.core.listNamespacedPod({ namespace: this.ns, labelSelector }),
    );
    return list.items;
  }

  /** The pod, or undefined when it does not exist (404). */
  async readPod(name: string): Promise<V1Pod | undefined> {
    try {
      return await this.call(`get pods/${name}`, true, () =>
        this.core.readNamespacedPod({ name, namespace: this.ns }),
      );
    } catch (err) {
      if (kubeErrorStatus(err) === 404) return undefined;
      throw err;
    }
  }

  /**
   * Merges annotations into a pod. Quirk handled: client-node 1.x picks the first content type the
   * API lists for PATCH, `application/json-patch+json`, which rejects an object body; the merge-patch
   * type must be set through a header middleware (kubernetes-client/javascript#1398, #862, #19).
   */
  async annotatePod(name: string, annotations: Record<string, string>): Promise<void> {
    await this.call(`patch pods/${name}`, true, () =>
      this.core.patchNamespacedPod(
        { name, namespace: this.ns, body: { metadata: { annotations } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
  }

  /** Deletes a pod; false when it was already gone (404). */
  async deletePod(name: string, gracePeriodSeconds: number): Promise<boolean> {
    try {
      await this.call(`delete pods/${name}`, true, () =>
        this.core.deleteNamespacedPod({ name, namespace: this.ns, gracePeriodSeconds }),
      );
      return true;
    } catch (err) {
      if (kubeErrorStatus(err) === 404) return false;
      throw err;
    }
  }

  createService(service: V1Service): Promise<V1Service> {
    const name = service.metadata?.name ?? '?';
    return this.call(`create services/${name}`, false, () =>
      this.core.createNamespacedService({ namespace: this.ns, body: service }),
    );
  }

  async listServices(labelSelector: string): Promise<V1Service[]> {
    const list = await this.call(`list services -l ${labelSelector}`, true, () =>
      this.core.listNamespacedService({ namespace: this.ns, labelSelector }),
    );
    return list.items;
  }

  async deleteService(name: string): Promise<void> {
    try {
      await this.call(`delete services/${name}`, true, () =>
        this.core.deleteNamespacedService({ name, namespace: this.ns }),
      );
    } catch (err) {
      if (kubeErrorStatus(err) !== 404) throw err;
    }
  }

  /**
   * PodMetrics of the deployment's pods. Through CustomObjectsApi rather than client-node's Metrics
   * helper: that one cannot filter by label and, in 1.4.0, drops the response body of a non-200
   * answer ("Error occurred in metrics request"), so a 403 or 404 would lose its reason.
   */
  async listPodMetrics(labelSelector: string): Promise<PodMetrics[]> {
    const list = (await this.call(`list pods.metrics.k8s.io -l ${labelSelector}`, true, () =>
      this.custom.listNamespacedCustomObject({
        group: 'metrics.k8s.io',
        version: 'v1beta1',
        namespace: this.ns,
        plural: 'pods',
        labelSelector,
      }),
    )) as { items?: PodMetrics[] };
    return list.items ?? [];
  }
}
