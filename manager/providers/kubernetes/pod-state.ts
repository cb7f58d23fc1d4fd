import type { V1Pod } from '@kubernetes/client-node';
import type { Level, Replica, ReplicaFailure, ReplicaState } from '../cloud-provider.ts';
import { DRAINING_ANNOTATION, LABELS, podPorts } from './manifest.ts';

/**
 * Pod status → Replica (pure). Readiness is the pod's Ready condition (the template's readinessProbe
 * as the kubelet runs it); the address is the pod IP (or its Service's cluster IP).
 */

/** Waiting reasons after which a container with restartPolicy Never will not start by itself. */
const FATAL_WAITING = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'CrashLoopBackOff',
  'RunContainerError',
]);

function millis(value: Date | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function failure(reason: string): ReplicaFailure {
  return { reason, exitCode: null, signal: null, logTail: [] };
}

/** Why the pod will never become ready, or undefined while it still may. */
export function podFailure(pod: V1Pod, now: number, readyTimeoutMs: number): ReplicaFailure | undefined {
  const status = pod.status;
  const phase = status?.phase;
  if (phase === 'Failed' || phase === 'Succeeded') {
    const terminated = status?.containerStatuses?.find((c) => c.state?.terminated)?.state?.terminated;
    const why = status?.reason ?? terminated?.reason ?? status?.message ?? 'no reason given';
    return {
      ...failure(`pod ${phase}: ${why}`),
      exitCode: terminated?.exitCode ?? null,
      signal: terminated?.signal === undefined ? null : String(terminated.signal),
    };
  }
  for (const c of [...(status?.initContainerStatuses ?? []), ...(status?.containerStatuses ?? [])]) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && FATAL_WAITING.has(waiting.reason))
      return failure(
        `container ${c.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`,
      );
  }
  const ready = status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return undefined;
  // Not ready since the last transition (or since creation): a pod that was ready and blips is not failed.
  const since = millis(ready?.lastTransitionTime) ?? millis(pod.metadata?.creationTimestamp) ?? now;
  if (now - since > readyTimeoutMs)
    return failure(`not Ready within ${Math.round(readyTimeoutMs / 1000)} s (phase ${phase ?? 'unknown'})`);
  return undefined;
}

export function podIsReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export interface PodView {
  now: number;
  readyTimeoutMs: number;
  /** The address when the replica is exposed through a Service (its cluster IP). */
  serviceIp?: string | undefined;
  standardPort: number;
}

export function podState(pod: V1Pod, now: number, readyTimeoutMs: number): ReplicaState {
  if (podFailure(pod, now, readyTimeoutMs)) return 'failed';
  // Terminating (deleted, in its grace period) or marked by the manager: leaving the pool.
  if (pod.metadata?.deletionTimestamp || pod.metadata?.annotations?.[DRAINING_ANNOTATION] === 'true')
    return 'draining';
  return podIsReady(pod) ? 'ready' : 'booting';
}

export function podToReplica(pod: V1Pod, view: PodView): Replica {
  const labels = pod.metadata?.labels ?? {};
  const host = view.serviceIp ?? pod.status?.podIP ?? '';
  const { port, ports } = podPorts(pod, view.standardPort);
  const state = podState(pod, view.now, view.readyTimeoutMs);
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
  const limit = podCpuLimit(pod);
  return {
    id: pod.metadata?.name ?? '',
    level: (labels[LABELS.level] === 'orchestrator' ? 'orchestrator' : 'broker') as Level,
    template: labels[LABELS.template] ?? 'unknown',
    host,
    port,
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`,
    state,
    cpuQuota: limit,
    createdAt: millis(pod.metadata?.creationTimestamp) ?? view.now,
    readyAt: ready ? (millis(ready.lastTransitionTime) ?? view.now) : undefined,
    ports,
    failure: state === 'failed' ? podFailure(pod, view.now, view.readyTimeoutMs) : undefined,
  };
}

/**
 * A CPU quantity in cores: "250m" → 0.25, "1" → 1, "1500u" → 0.0015, "123456789n" → 0.123456789
 * (metrics-server reports nanocores). Undefined for anything else.
 */
export function parseCpuQuantity(quantity: string | undefined): number | undefined {
  if (quantity === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(n|u|m|k)?$/.exec(quantity.trim());
  if (!m?.[1]) return undefined;
  const scale = { n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3 }[m[2] as 'n' | 'u' | 'm' | 'k'] ?? 1;
  return Number(m[1]) * scale;
}

/** The pod's CPU limit in cores (sum over its containers), or undefined when one has none. */
export function podCpuLimit(pod: V1Pod): number | undefined {
  const containers = pod.spec?.containers ?? [];
  let total = 0;
  for (const c of containers) {
    const cores = parseCpuQuantity(c.resources?.limits?.cpu);
    if (cores === undefined) return undefined;
    total += cores;
  }
  return containers.length > 0 ? total : undefined;
}

/** metrics.k8s.io PodMetrics (the part used). */
export interface PodMetrics {
  metadata: { name: string };
  containers: Array<{ name: string; usage: { cpu?: string } }>;
}

/**
 * The pod's CPU use as a fraction of its limit (one core when unconstrained). metrics-server's
 * figure is already a rate over its window (`window`, typically 15–30 s), so no delta is needed.
 */
export function cpuFraction(metrics: PodMetrics, limitCores: number | undefined): number | undefined {
  let used = 0;
  for (const c of metrics.containers) {
    const cores = parseCpuQuantity(c.usage.cpu);
    if (cores === undefined) return undefined;
    used += cores;
  }
  return used / (limitCores ?? 1);
}
