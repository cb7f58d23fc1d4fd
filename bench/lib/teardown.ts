import type { TestContext } from 'node:test';
import { atBenchExit } from './exit-cleanup.ts';

/**
 * Runs `body` with a stand-in TestContext whose `after` collects clean-ups, and runs them (last first)
 * when it ends, returned or thrown, or when the bench is ended by a signal meanwhile (exit-cleanup.ts):
 * a bench can then start brokers and orchestrators with the test helpers (test/helpers), which register
 * their teardown with `t.after`.
 */
export async function withTeardown<T>(body: (t: TestContext) => Promise<T>): Promise<T> {
  const cleanups: Array<() => unknown> = [];
  const runAll = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  };
  const forget = atBenchExit(runAll);
  const t = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext;
  try {
    return await body(t);
  } finally {
    forget();
    await runAll();
  }
}
