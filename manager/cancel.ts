import { setTimeout as sleep } from 'node:timers/promises';
import { BrokelError, TimeoutError } from '../common/errors.ts';

/**
 * A scaling action stopped because the manager stops: not a failure of what it drove. The replica it
 * was adding or removing stays where the action left it (a manager that stops never stops the data
 * plane); a restarted manager finishes it (manager/resume.ts), `brokel down` or a provider stop
 * destroys it.
 */
export class ActionCancelled extends BrokelError {
  constructor(what: string) {
    super('cancelled', `${what}: cancelled, the manager stops`, { retryable: true });
  }
}

export function throwIfCancelled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new ActionCancelled(what);
}

/**
 * Settles as `promise` does, or rejects with ActionCancelled as soon as `signal` aborts (the promise
 * itself runs on, bounded by its own timeout; its outcome is ignored).
 */
export function cancellable<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  what: string,
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(new ActionCancelled(what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => undefined);
      reject(new ActionCancelled(what));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Polls `probe` every 200 ms until it answers, the time runs out, or the manager stops (`signal`). */
export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  signal?: AbortSignal,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    throwIfCancelled(signal, what);
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new TimeoutError(what, timeoutMs);
    await sleep(200);
  }
}
