import { request } from 'undici';
import { HttpError } from '../errors.ts';

/**
 * JSON over HTTP with a bearer token (undici), for the manager's calls to orchestrators and to a
 * standalone geo-dns. Every call has a timeout; errors are HttpErrors carrying the status (0 when
 * there was no answer) and the server's `error` message.
 */
export class JsonClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 5000,
  ) {}

  protected async call<T>(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<T> {
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      throw new HttpError(0, `${method} ${this.baseUrl}${path}: ${(err as Error).message}`, { cause: err });
    }
    const text = await response.body.text();
    if (response.statusCode >= 400) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {}
      throw new HttpError(
        response.statusCode,
        `${method} ${this.baseUrl}${path}: ${response.statusCode} ${message}`,
      );
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}
