import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { errorMessage, HttpError, ProviderError } from '../../../common/errors.ts';
import { backoffDelayMs, bodyExcerpt, type Outcome, shouldRetry } from './retry.ts';

export interface RestClientOptions {
  /** Base URL of the API, e.g. `http://cloud.example:8080` (paths are appended). */
  url: string;
  token: string;
  /** Budget of one attempt: until the headers, and between body chunks. */
  timeoutMs: number;
  /** Extra attempts (see retry.ts for which failures are retried). */
  retries: number;
  retryBaseMs: number;
  retryCapMs?: number;
  random?: () => number;
}

type Method = 'GET' | 'POST' | 'DELETE';

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * The opennebula provider's HTTP client (undici): Bearer auth, a timeout per attempt, retries with
 * backoff (retry.ts). Every failure is a ProviderError naming the method, the path, the status and
 * the start of the body, e.g. `opennebula: GET /vms/x → 401: {"error":"missing or wrong bearer token"}`.
 * Its `cause` is an HttpError carrying the status (0: no answer).
 */
export class RestClient {
  private readonly base: string;

  constructor(private readonly o: RestClientOptions) {
    this.base = o.url.replace(/\/+$/, '');
  }

  async call(method: Method, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const attempts = this.o.retries + 1;
    let last: { outcome: Outcome; detail: string; cause: unknown; timedOut: boolean } | undefined;
    let made = 0;
    for (let attempt = 0; attempt < attempts; attempt++) {
      made = attempt + 1;
      if (attempt > 0) {
        const random = (this.o.random ?? Math.random)();
        await sleep(backoffDelayMs(attempt - 1, this.o.retryBaseMs, this.o.retryCapMs ?? 10_000, random));
      }
      try {
        const response = await request(`${this.base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.o.token}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          headersTimeout: this.o.timeoutMs,
          bodyTimeout: this.o.timeoutMs,
        });
        const text = await response.body.text();
        const status = response.statusCode;
        if (status < 400) {
          return { status, json: text === '' ? undefined : parseJsonAnswer(method, path, status, text) };
        }
        const outcome: Outcome = { kind: 'status', status };
        last = { outcome, detail: `${status}: ${bodyExcerpt(text)}`, cause: undefined, timedOut: false };
        if (!shouldRetry(method, outcome)) break;
      } catch (err) {
        if (err instanceof ProviderError) throw err;
        const code = (err as { code?: string }).code ?? '';
        const timedOut = TIMEOUT_CODES.has(code);
        const detail = timedOut
          ? `no answer within ${this.o.timeoutMs} ms`
          : `no answer (${code || errorMessage(err)})`;
        last = { outcome: { kind: 'no-answer' }, detail, cause: err, timedOut };
        if (!shouldRetry(method, last.outcome)) break;
      }
    }
    if (!last) throw new Error('unreachable: no attempt was made');
    const status = last.outcome.kind === 'status' ? last.outcome.status : 0;
    const tries = status >= 400 && status < 500 ? '' : ` (${made} attempt${made === 1 ? '' : 's'})`;
    const message = `opennebula: ${method} ${path} → ${last.detail}${tries}`;
    throw new ProviderError(message, {
      code: last.timedOut ? 'timeout' : status === 0 ? 'provider_unreachable' : `http_${status}`,
      retryable: status === 0 || status >= 500,
      cause: new HttpError(status, message, last.cause === undefined ? {} : { cause: last.cause }),
    });
  }
}

function parseJsonAnswer(method: string, path: string, status: number, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ProviderError(`opennebula: ${method} ${path} → ${status} but not JSON: ${bodyExcerpt(text)}`);
  }
}

/** The ProviderError's HTTP status (0: no answer), or undefined for other errors. */
export function statusOf(err: unknown): number | undefined {
  return err instanceof ProviderError && err.cause instanceof HttpError ? err.cause.status : undefined;
}
