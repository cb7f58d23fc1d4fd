import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { watchOutputs } from '../../common/closed-output.ts';

/**
 * What a benchmark started goes with it, whatever ends it: its own end (each bench's `finally`), an
 * uncaught error, Ctrl-C or a kill (SIGINT, SIGTERM), or a reader that went away (`| head`: EPIPE on
 * standard output, which used to end the bench as an uncaught error and leave its Mosquittos, their
 * cgroups and its orchestrators running). A closed output is ignored and the bench runs to its end,
 * which is bounded, and cleans up there. On a signal or an uncaught error the children tracked here
 * get SIGTERM (SIGKILL after 5 s) and the clean-ups registered here run, last first, then the process
 * exits (130 / 143 / 1).
 */

type Cleanup = () => unknown;

const cleanups = new Set<Cleanup>();
/** Live children, each with the promise of its exit. */
const children = new Map<ChildProcess, Promise<void>>();
let installed = false;
let running: Promise<void> | undefined;

/** Grace a tracked child gets between SIGTERM and SIGKILL. */
export const CHILD_STOP_MS = 5_000;

/** Runs `fn` if the bench is ended by a signal or an uncaught error; returns the function that unregisters it. */
export function atBenchExit(fn: Cleanup): () => void {
  install();
  cleanups.add(fn);
  return () => {
    cleanups.delete(fn);
  };
}

/**
 * A fresh folder in the temporary one (a CPU profile's): gone after `remove()`, or with the bench if
 * a signal or an error ends it first (a profile folder was left behind by every bench ended so).
 */
export function benchTempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const rm = () => rmSync(dir, { recursive: true, force: true });
  const unregister = atBenchExit(rm);
  return {
    dir,
    remove: () => {
      unregister();
      rm();
    },
  };
}

/** A child process ended with the bench (by PID, SIGTERM then SIGKILL) unless it exited first. */
export function trackChild(child: ChildProcess): void {
  install();
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      children.delete(child);
      resolve();
    }),
  );
  children.set(child, exited);
}

/** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process is gone. */
export async function stopChild(
  child: ChildProcess,
  exited: Promise<void>,
  timeoutMs: number,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, timeoutMs);
  });
  await Promise.race([exited, killed]);
  clearTimeout(timer);
  await exited;
}

/** Stops the tracked children, then runs the registered clean-ups, last first; once. */
export function benchCleanup(): Promise<void> {
  running ??= (async () => {
    await Promise.all([...children].map(([child, exited]) => stopChild(child, exited, CHILD_STOP_MS)));
    for (const fn of [...cleanups].reverse()) {
      try {
        await fn();
      } catch (err) {
        console.error('bench clean-up failed:', err);
      }
    }
  })();
  return running;
}

function endWith(code: number, what: string) {
  return (err?: unknown): void => {
    if (err === undefined) console.error(`\n${what}: cleaning up`);
    else console.error(`${what}:`, err);
    void benchCleanup().finally(() => process.exit(code));
  };
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', endWith(1, 'uncaught exception'));
  process.on('unhandledRejection', endWith(1, 'unhandled rejection'));
  process.once('SIGINT', () => endWith(130, 'SIGINT')());
  process.once('SIGTERM', () => endWith(143, 'SIGTERM')());
  // A closed pipe (EPIPE) is ignored, as in the brokel command; any other write error is an uncaught
  // error, which ends the bench as above.
  watchOutputs();
}
