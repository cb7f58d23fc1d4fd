import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat that the local provider needs. */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  /** Start time after boot, in clock ticks: with the pid it names one process, PID reuse or not. */
  startTime: number;
}

/**
 * Parses one /proc/<pid>/stat line (pure). The command name is in parentheses and may itself contain
 * spaces and parentheses, so the fields are counted from the last ')'. proc(5): utime is field 14,
 * stime 15, starttime 22.
 */
export function parseProcStat(line: string): ProcStat | undefined {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(line.slice(0, open).trim());
  const rest = line
    .slice(close + 2)
    .trim()
    .split(' ');
  // rest[0] is field 3 (state).
  const field = (n: number): number => Number(rest[n - 3]);
  const stat: ProcStat = {
    pid,
    comm: line.slice(open + 1, close),
    state: rest[0] ?? '?',
    ppid: field(4),
    pgrp: field(5),
    cpuTicks: field(14) + field(15),
    startTime: field(22),
  };
  return Number.isFinite(pid) && Number.isFinite(stat.cpuTicks) && Number.isFinite(stat.startTime)
    ? stat
    : undefined;
}

export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

export function listProcStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcStat(Number(name));
    if (stat) out.push(stat);
  }
  return out;
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number, stats: readonly ProcStat[] = listProcStats()): ProcStat[] {
  return stats.filter((s) => s.pgrp === pgid && s.state !== 'Z');
}

/** True when `pid` is alive and is the process that started at `startTime` (not a reused PID). */
export function isSameProcessAlive(pid: number, startTime: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTime === startTime;
}

/**
 * True unless `pid` now names a process other than the one that started at `startTime`: the recorded
 * process itself, or no process at all (a group outliving its leader keeps the number reserved, so
 * signalling that group still reaches only the replica's members). A replica's group is signalled only
 * when this holds: a reused PID is never signalled.
 */
export function pidStillNames(pid: number, startTime: number): boolean {
  const stat = readProcStat(pid);
  return stat === undefined || stat.startTime === startTime;
}

let clockTicks: number | undefined;

/** sysconf(_SC_CLK_TCK), read once with getconf; 100 on every Linux we run on. */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}
