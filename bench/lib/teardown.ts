import type { TestContext } from 'node:test';

/**
 * Runs `body` with a stand-in TestContext whose `after` collects clean-ups, and runs them (last first)
 * when it ends, returned or thrown: a bench can then start brokers and orchestrators with the test
 * helpers (test/helpers), which register their teardown with `t.after`.
 */
export async function withTeardown<T>(body: (t: TestContext) => Promise<T>): Promise<T> {
  const cleanups: Array<() => unknown> = [];
  const t = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext;
  try {
    return await body(t);
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}
