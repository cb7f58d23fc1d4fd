import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessSpec } from '../../../templates/template.ts';
import { groupMembers, readProcStat } from './proc-stat.ts';

/**
 * The shell a replica starts in: it joins its cgroups itself (so even its first instruction is
 * accounted and capped), waits out the simulated boot delay, then execs the template's command.
 * The process is a process-group leader (spawned detached): the group is the replica.
 */
const WRAPPER = [
  'for f in $BROKEL_CGROUP_PROCS; do echo $$ > "$f" || { echo "brokel: cannot join cgroup $f" >&2; exit 125; }; done',
  'unset BROKEL_CGROUP_PROCS',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a JS template
  'if [ "${BROKEL_BOOT_DELAY:-0}" != 0 ]; then sleep "$BROKEL_BOOT_DELAY"; fi',
  'unset BROKEL_BOOT_DELAY',
  'exec "$@"',
].join('\n');

export interface SpawnedReplica {
  pid: number;
  startTime: number;
  /** Resolves when the main process exits (only for processes this provider spawned). */
  exited: Promise<{ exitCode: number | null; signal: string | null }>;
}

export interface SpawnOptions {
  logFile: string;
  cwd: string;
  cgroupProcs: readonly string[];
  bootDelaySeconds: number;
}

export async function spawnReplica(spec: ProcessSpec, options: SpawnOptions): Promise<SpawnedReplica> {
  const fd = openSync(options.logFile, 'a');
  try {
    const child = spawn('/bin/sh', ['-c', WRAPPER, 'brokel-replica', spec.command, ...spec.args], {
      detached: true,
      cwd: options.cwd,
      stdio: ['ignore', fd, fd],
      env: {
        ...process.env,
        ...spec.env,
        BROKEL_CGROUP_PROCS: options.cgroupProcs.join(' '),
        BROKEL_BOOT_DELAY: String(options.bootDelaySeconds),
      },
    });
    const exited = new Promise<{ exitCode: number | null; signal: string | null }>((resolve) => {
      child.once('exit', (exitCode, signal) => resolve({ exitCode, signal }));
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid ?? -1));
      child.once('error', reject);
    });
    const startTime = readProcStat(pid)?.startTime ?? -1;
    return { pid, startTime, exited };
  } finally {
    closeSync(fd);
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function waitUntil(predicate: () => boolean, timeoutMs: number, stepMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    await sleep(stepMs);
  }
  return predicate();
}

/**
 * Stops a replica's process group: SIGTERM to the group, wait for it to go, then SIGKILL to whatever
 * is left (epmd ignores SIGTERM). Resolves once no member of the group is alive.
 */
export async function stopGroup(pgid: number, timeoutMs: number): Promise<{ forced: boolean }> {
  if (groupMembers(pgid).length === 0) return { forced: false };
  signalGroup(pgid, 'SIGTERM');
  const graceful = await waitUntil(() => groupMembers(pgid).length === 0, timeoutMs);
  if (graceful) return { forced: false };
  signalGroup(pgid, 'SIGKILL');
  if (!(await waitUntil(() => groupMembers(pgid).length === 0, 5000))) {
    throw new Error(`process group ${pgid} survived SIGKILL`);
  }
  return { forced: true };
}

/** Kills whatever is left of a group at once (after its main process died unexpectedly). */
export function killGroup(pgid: number): void {
  signalGroup(pgid, 'SIGKILL');
}

/** The last `lines` lines of a log file (reads at most the last 64 KiB). */
export async function tailFile(path: string, lines = 20): Promise<string[]> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer
      .toString('utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .slice(-lines);
  } catch {
    return [];
  } finally {
    await handle?.close();
  }
}
