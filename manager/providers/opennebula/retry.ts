/**
 * When the REST client retries, and how long it waits first (pure).
 *
 * - A 5xx answer: the server says it did not do it, so every method is retried (a failed create
 *   leaves nothing behind on a well-behaved front-end; `brokel cloud serve` cleans up first).
 * - No answer (timeout, reset, refused): only idempotent methods (GET, DELETE). A POST may have
 *   created a VM before the answer was lost; retrying it could create a second one.
 * - A 4xx answer: never; the request itself is wrong and will stay wrong.
 */

export type Outcome = { kind: 'status'; status: number } | { kind: 'no-answer' };

export function isIdempotent(method: string): boolean {
  return method === 'GET' || method === 'DELETE' || method === 'HEAD' || method === 'PUT';
}

export function shouldRetry(method: string, outcome: Outcome): boolean {
  if (outcome.kind === 'no-answer') return isIdempotent(method);
  return outcome.status >= 500;
}

/**
 * Delay before retry number `retry` (0-based): exponential from `baseMs`, capped at `capMs`, with
 * "equal jitter" (half fixed, half random) so clients that failed together do not retry together.
 * `random` is in [0, 1).
 */
export function backoffDelayMs(retry: number, baseMs: number, capMs: number, random: number): number {
  const exponential = Math.min(capMs, baseMs * 2 ** retry);
  return Math.round(exponential / 2 + (exponential / 2) * random);
}

/** The whole schedule for `retries` retries (for docs and tests): bounds of each delay. */
export function backoffBounds(retries: number, baseMs: number, capMs: number): Array<[number, number]> {
  return Array.from({ length: retries }, (_, retry) => [
    backoffDelayMs(retry, baseMs, capMs, 0),
    backoffDelayMs(retry, baseMs, capMs, 1),
  ]);
}

/** The start of a response body, for error messages: one line, at most `max` characters. */
export function bodyExcerpt(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
