import { ProviderError } from '../../../common/errors.ts';
import { bodyExcerpt } from '../opennebula/retry.ts';

/**
 * @kubernetes/client-node errors → ProviderErrors that name the call and carry the API status (pure).
 *
 * Quirk handled: in client-node 1.x an ApiException's `body` is the raw response text, not a parsed
 * Status object (kubernetes-client/javascript 1.x generated code calls `getBodyAsAny()`, i.e.
 * `body.text()`; see also folio-pro/kdashboard#58, which hit this with 1.4.0), and for a 401 it is
 * undefined. So the Status is parsed here from a string or an object, whichever arrives.
 */

export interface KubeStatus {
  code: number;
  reason: string | undefined;
  message: string | undefined;
}

/** The HTTP status and Status object of a client-node error; code 0 when nothing answered. */
export function kubeStatus(err: unknown): KubeStatus {
  const e = err as { code?: unknown; body?: unknown } | undefined;
  const code = typeof e?.code === 'number' ? e.code : 0;
  let body: unknown = e?.body;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      return { code, reason: undefined, message: text === '' ? undefined : bodyExcerpt(text) };
    }
  }
  const status = (body ?? {}) as { reason?: unknown; message?: unknown };
  return {
    code,
    reason: typeof status.reason === 'string' ? status.reason : undefined,
    message: typeof status.message === 'string' ? status.message : undefined,
  };
}

/** Worth another attempt: throttled (429), a server-side failure (5xx) or no answer. */
export function isRetryableStatus(code: number): boolean {
  return code === 0 || code === 429 || code >= 500;
}

/** Seconds of an ApiException's Retry-After header (429), capped; undefined when absent. */
export function retryAfterMs(err: unknown, capMs: number): number | undefined {
  const headers = (err as { headers?: Record<string, string> } | undefined)?.headers;
  const value = headers?.['retry-after'] ?? headers?.['Retry-After'];
  const seconds = value === undefined ? Number.NaN : Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(capMs, seconds * 1000) : undefined;
}

/** `kubernetes: create pods/x → 403 Forbidden: pods "x" is forbidden: ...` */
export function kubeError(what: string, err: unknown): ProviderError {
  const status = kubeStatus(err);
  const detail =
    status.code === 0
      ? `no answer (${(err as Error)?.message?.split('\n')[0] ?? String(err)})`
      : `${status.code}${status.reason ? ` ${status.reason}` : ''}${status.message ? `: ${status.message}` : ''}`;
  return new ProviderError(`kubernetes: ${what} → ${detail}`, {
    code: status.code === 0 ? 'provider_unreachable' : `http_${status.code}`,
    retryable: isRetryableStatus(status.code),
    cause: err,
  });
}

/** The HTTP status of a ProviderError made by kubeError (0: no answer), else undefined. */
export function kubeErrorStatus(err: unknown): number | undefined {
  if (!(err instanceof ProviderError)) return undefined;
  const m = /^http_(\d+)$/.exec(err.code);
  if (m) return Number(m[1]);
  return err.code === 'provider_unreachable' || err.code === 'timeout' ? 0 : undefined;
}
