/**
 * The few typed errors of Brokel-TS. Each carries what a caller needs to decide: a stable code,
 * whether a retry can help, and (where it applies) the MQTT reason code or HTTP status.
 * Log an error once, at the boundary that handles it.
 */
export class BrokelError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** One bad field of a configuration or of call options: `path: message`. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** A configuration (file or call options) that does not validate. Never retryable. */
export class ConfigError extends BrokelError {
  readonly problems: readonly FieldProblem[];
  readonly source: string | undefined;

  constructor(problems: readonly FieldProblem[], source?: string) {
    const where = source ? `${source}: ` : '';
    const lines = problems.map((p) => `${p.path}: ${p.message}`);
    super('config_invalid', `${where}${lines.length === 1 ? lines[0] : `\n  ${lines.join('\n  ')}`}`);
    this.problems = problems;
    this.source = source;
  }
}

/** A cloud provider could not do what was asked (create, destroy, read CPU). */
export class ProviderError extends BrokelError {
  constructor(message: string, options: { retryable?: boolean; cause?: unknown; code?: string } = {}) {
    super(options.code ?? 'provider_failed', message, options);
  }
}

/** An MQTT-level failure with the reason code to send (v5) or the CONNACK return code (3.1.1). */
export class MqttError extends BrokelError {
  readonly reasonCode: number;

  constructor(reasonCode: number, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super('mqtt_error', message, options);
    this.reasonCode = reasonCode;
  }
}

/** An HTTP call answered with an error status (or did not answer: status 0). */
export class HttpError extends BrokelError {
  readonly status: number;

  constructor(status: number, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super('http_error', message, {
      retryable: options.retryable ?? (status === 0 || status >= 500),
      ...options,
    });
    this.status = status;
  }
}

/** A bounded wait that ran out. Retryable: the thing waited for may still happen. */
export class TimeoutError extends BrokelError {
  constructor(what: string, timeoutMs: number) {
    super('timeout', `${what} did not happen within ${timeoutMs} ms`, { retryable: true });
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
