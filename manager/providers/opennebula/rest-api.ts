import { z } from 'zod';
import type { Replica, ReplicaState } from '../cloud-provider.ts';

/**
 * The OpenNebula-like REST API (README.md, "Cloud providers"): the contract between the opennebula
 * provider (client) and `brokel cloud serve` (server). Pure: types, the request schema and the
 * VM ↔ Replica mapping.
 *
 *   POST   /vms               { template, level, labels, cpu?, bootDelaySeconds?, params? } → 201 Vm
 *   GET    /vms?label=K=V     (repeatable, all must match)                                   → 200 { vms: Vm[] }
 *   GET    /vms/:id           (cpu: use since the previous GET /vms/:id of that VM)         → 200 Vm
 *   DELETE /vms/:id                                                                          → 200 { id, deleted: true }
 * Every request: `Authorization: Bearer <token>`. Errors: 4xx/5xx with `{ "error": "..." }`.
 */

/** OpenNebula-style VM states: PENDING (booting), RUNNING (ready), FAILURE (exited or never ready). */
export type VmState = 'PENDING' | 'RUNNING' | 'FAILURE';

export interface Vm {
  id: string;
  template: string;
  level: 'broker' | 'orchestrator';
  labels: Record<string, string>;
  state: VmState;
  /** The VM's address, and its main (MQTT) port. */
  ip: string;
  port: number;
  /** Extra ports by name (an orchestrator's `admin`). */
  ports: Record<string, number>;
  cpu: {
    /** Cores allocated (the VM's size); null when unconstrained (one core). */
    allocated: number | null;
    /** Use since the previous GET /vms/:id, as a fraction of the allocation; null when unknown or in lists. */
    usage: number | null;
  };
  createdAt: string;
  readyAt: string | null;
  failure: { reason: string; exitCode: number | null; signal: string | null; logTail: string[] } | null;
}

const labelKey = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._/-]{0,120}$/, 'is not a label key');
const labelValue = z.string().regex(/^[a-zA-Z0-9._-]{0,63}$/, 'is not a label value');

export const createVmSchema = z.strictObject({
  template: z.string().min(1),
  level: z.enum(['broker', 'orchestrator']),
  labels: z.record(labelKey, labelValue).default({}),
  cpu: z.number().positive().max(64).optional(),
  bootDelaySeconds: z.number().min(0).max(600).optional(),
  params: z.record(z.string(), z.unknown()).optional(),
});
export type CreateVmRequest = z.input<typeof createVmSchema>;

/** The labels a manager puts on its VMs and lists by. */
export function deploymentLabels(deployment: string): Record<string, string> {
  return { 'brokel.io/deployment': deployment };
}

/** `?label=k=v&label=...` for a label map. */
export function labelQuery(labels: Record<string, string>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(labels)) params.append('label', `${key}=${value}`);
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Parses the `label` query values into a map; undefined when one is not `key=value`. */
export function parseLabelSelector(values: readonly string[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) return undefined;
    out[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return out;
}

export function labelsMatch(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

const VM_STATES: Record<ReplicaState, VmState> = {
  booting: 'PENDING',
  ready: 'RUNNING',
  // Draining is the manager's own mark; on the cloud side the VM is still running.
  draining: 'RUNNING',
  failed: 'FAILURE',
};

/** Server side: a replica of the local provider as a VM. */
export function replicaToVm(r: Replica, labels: Record<string, string>, usage: number | undefined): Vm {
  return {
    id: r.id,
    template: r.template,
    level: r.level,
    labels,
    state: VM_STATES[r.state],
    ip: r.host,
    port: r.port,
    ports: r.ports,
    cpu: { allocated: r.cpuQuota ?? null, usage: usage ?? null },
    createdAt: new Date(r.createdAt).toISOString(),
    readyAt: r.readyAt === undefined ? null : new Date(r.readyAt).toISOString(),
    failure: r.failure ?? null,
  };
}

/** Client side: a VM as a replica; `draining` is the manager's own mark, kept client-side. */
export function vmToReplica(vm: Vm, draining: boolean): Replica {
  let state: ReplicaState = vm.state === 'RUNNING' ? 'ready' : vm.state === 'FAILURE' ? 'failed' : 'booting';
  if (draining && state !== 'failed') state = 'draining';
  const host = vm.ip;
  return {
    id: vm.id,
    level: vm.level,
    template: vm.template,
    host,
    port: vm.port,
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${vm.port}`,
    state,
    cpuQuota: vm.cpu.allocated ?? undefined,
    createdAt: Date.parse(vm.createdAt),
    readyAt: vm.readyAt === null ? undefined : Date.parse(vm.readyAt),
    ports: vm.ports,
    failure: vm.failure ?? undefined,
  };
}

const vmSchema = z.object({
  id: z.string(),
  template: z.string(),
  level: z.enum(['broker', 'orchestrator']),
  labels: z.record(z.string(), z.string()),
  state: z.enum(['PENDING', 'RUNNING', 'FAILURE']),
  ip: z.string(),
  port: z.number().int(),
  ports: z.record(z.string(), z.number().int()),
  cpu: z.object({ allocated: z.number().nullable(), usage: z.number().nullable() }),
  createdAt: z.string(),
  readyAt: z.string().nullable(),
  failure: z
    .object({
      reason: z.string(),
      exitCode: z.number().nullable(),
      signal: z.string().nullable(),
      logTail: z.array(z.string()),
    })
    .nullable(),
});

/** Client side: checks a server's answer is a VM (a wrong server fails clearly, not later). */
export function parseVm(value: unknown): Vm | undefined {
  const result = vmSchema.safeParse(value);
  return result.success ? result.data : undefined;
}

export function parseVmList(value: unknown): Vm[] | undefined {
  const result = z.object({ vms: z.array(vmSchema) }).safeParse(value);
  return result.success ? result.data.vms : undefined;
}
