import type { V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { ConfigError } from '../../../common/errors.ts';
import type { Level } from '../cloud-provider.ts';

/**
 * Renders a template's `k8s/pod.yaml` into the pod the provider creates (pure).
 *
 * The YAML is parsed first and placeholders are filled in its string values afterwards, so a value
 * (a broker URL list, a token) can never change the manifest's structure. `${CPU_LIMIT}` is the
 * replica's CPU quota as a quantity ("250m"); an unconstrained replica has its cpu request and
 * limit removed. A placeholder without a value is an error naming it and where to set it.
 */

export const LABELS = {
  deployment: 'brokel.io/deployment',
  level: 'brokel.io/level',
  template: 'brokel.io/template',
  replica: 'brokel.io/replica',
} as const;
/** Set by markDraining (a merge patch): the manager is about to remove the replica. */
export const DRAINING_ANNOTATION = 'brokel.io/draining';

/** `${CPU_LIMIT}` as written in the manifests. */
const CPU_PLACEHOLDER = `\${CPU_LIMIT}`;
const PLACEHOLDER = /\$\{([A-Z][A-Z0-9_]*)\}/g;

/** Cores → a CPU quantity in millicores (0.25 → "250m"); at least 1m. */
export function cpuQuantity(cores: number): string {
  return `${Math.max(1, Math.round(cores * 1000))}m`;
}

/** Template params → placeholder values: `adminToken` → ADMIN_TOKEN; lists are joined with commas. */
export function paramPlaceholders(params: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    const name = key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
    if (Array.isArray(value)) out[name] = value.map(String).join(',');
    else if (value !== undefined && value !== null && typeof value !== 'object') out[name] = String(value);
  }
  return out;
}

export interface RenderInput {
  /** The manifest's text and where it came from (for error messages). */
  text: string;
  source: string;
  replicaId: string;
  deployment: string;
  namespace: string;
  level: Level;
  template: string;
  /** Cores; undefined: no cpu request or limit. */
  cpuQuota: number | undefined;
  /** Every other placeholder's value (config placeholders, then template params). */
  values: Readonly<Record<string, string>>;
}

function fill(value: unknown, values: Record<string, string>, missing: Set<string>): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (whole, name: string) => {
      const v = values[name];
      if (v === undefined) missing.add(name);
      return v ?? whole;
    });
  }
  if (Array.isArray(value)) return value.map((v) => fill(v, values, missing));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, values, missing)]));
  }
  return value;
}

/** Removes `cpu: ${CPU_LIMIT}` from every container's requests and limits (unconstrained replica). */
function dropCpu(pod: V1Pod): void {
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    for (const part of [c.resources?.requests, c.resources?.limits]) {
      if (part && part.cpu === CPU_PLACEHOLDER) delete part.cpu;
    }
  }
}

export function renderPod(input: RenderInput): V1Pod {
  let raw: unknown;
  try {
    raw = parse(input.text);
  } catch (err) {
    throw new ConfigError([{ path: input.source, message: `not YAML: ${(err as Error).message}` }]);
  }
  const doc = raw as V1Pod | null;
  if (!doc || typeof doc !== 'object' || doc.kind !== 'Pod' || !doc.spec?.containers?.length)
    throw new ConfigError([{ path: input.source, message: 'is not a Pod manifest with containers' }]);
  if (input.cpuQuota === undefined) dropCpu(doc);
  const values: Record<string, string> = {
    ...input.values,
    REPLICA_ID: input.replicaId,
    DEPLOYMENT: input.deployment,
    ...(input.cpuQuota === undefined ? {} : { CPU_LIMIT: cpuQuantity(input.cpuQuota) }),
  };
  const missing = new Set<string>();
  const pod = fill(doc, values, missing) as V1Pod;
  if (missing.size > 0) {
    throw new ConfigError(
      [...missing].map((name) => ({
        path: `${input.source}: \${${name}}`,
        message: `has no value (set provider.kubernetes.placeholders.${name})`,
      })),
    );
  }
  pod.metadata = {
    ...pod.metadata,
    name: input.replicaId,
    namespace: input.namespace,
    labels: {
      ...pod.metadata?.labels,
      [LABELS.deployment]: input.deployment,
      [LABELS.level]: input.level,
      [LABELS.template]: input.template,
      [LABELS.replica]: input.replicaId,
    },
  };
  return pod;
}

/** The label selector of a deployment's pods (and Services). */
export function deploymentSelector(deployment: string): string {
  return `${LABELS.deployment}=${deployment}`;
}

/** The replica's ports from its first container: `mqtt` (else the first) is the main one. */
export function podPorts(pod: V1Pod, standardPort: number): { port: number; ports: Record<string, number> } {
  const declared = pod.spec?.containers?.[0]?.ports ?? [];
  const main = declared.find((p) => p.name === 'mqtt') ?? declared[0];
  const ports: Record<string, number> = {};
  for (const p of declared) if (p.name && p !== main) ports[p.name] = p.containerPort;
  return { port: main?.containerPort ?? standardPort, ports };
}
