import { request } from 'undici';
import { HttpError } from '../common/errors.ts';
import type { OrchestratorStatus } from '../orchestrator/orchestrator.ts';
import type { DesiredBroker } from '../orchestrator/pool/broker-pool.ts';

/**
 * The manager's side of an orchestrator's admin API (undici). Every call has a timeout; errors are
 * HttpErrors carrying the status (0 when there was no answer) and whether a retry can help.
 */
export class OrchestratorClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 5000,
  ) {}

  private async call<T>(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<T> {
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

  status(): Promise<OrchestratorStatus> {
    return this.call('GET', '/status');
  }

  setBrokers(
    brokers: readonly DesiredBroker[],
  ): Promise<{ added: string[]; removed: string[]; changed: string[]; status: OrchestratorStatus }> {
    return this.call('PUT', '/brokers', { brokers });
  }

  drain(serverReference?: string, graceMs?: number): Promise<{ draining: boolean }> {
    return this.call('POST', '/drain', {
      ...(serverReference === undefined ? {} : { serverReference }),
      ...(graceMs === undefined ? {} : { graceMs }),
    });
  }
}
