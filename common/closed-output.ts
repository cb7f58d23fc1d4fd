/**
 * A closed standard output: `brokel simulate | head -2`, whose reader left. Node ignores SIGPIPE, so
 * the next write fails with EPIPE, emitted as an 'error' on process.stdout; unhandled, the process died
 * there with a stack trace and exit code 1, mid-way, leaving what it had started (`brokel up` its
 * replicas). With watchOutputs() (main.ts) what is left to print goes nowhere, and:
 * - a bounded command runs to its end and cleans up as usual, with its own exit code;
 * - a service (common/shutdown.ts) stops as on SIGTERM;
 * - `brokel status --watch` stops watching (outputClosed()).
 * Any other write error is thrown as before. pino's lines go through a stream of its own on fd 1,
 * which already drops them after an EPIPE.
 */

const listeners: Array<() => void> = [];
let closed = false;

function onWriteError(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE') throw err;
  if (closed) return;
  closed = true;
  for (const listener of listeners.splice(0)) listener();
}

/** Handles EPIPE on process.stdout and process.stderr for the rest of the process (once). */
export function watchOutputs(): void {
  for (const stream of [process.stdout, process.stderr])
    if (!stream.listeners('error').includes(onWriteError)) stream.on('error', onWriteError);
}

/** Whether stdout or stderr has been closed by its reader. */
export function outputClosed(): boolean {
  return closed;
}

/** Calls `listener` once when stdout or stderr is closed by its reader (at once when it already is). */
export function onOutputClosed(listener: () => void): void {
  if (closed) listener();
  else listeners.push(listener);
}
