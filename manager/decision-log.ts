import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Appends one JSON object per line (observations, decisions, actions); never throws at the caller.
 * A write that fails is counted and reported through `onError` (the control plane logs it and counts
 * it in brokel_manager_decision_log_errors_total), never dropped silently.
 */
export class DecisionLog {
  private queue: Promise<void> = Promise.resolve();
  /** Lines that could not be written. */
  errors = 0;

  constructor(
    readonly file: string,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  /**
   * Makes the file exist (empty when new, kept when not) when the control plane starts, so a run that
   * ends before its first observation still leaves its (empty) log, not a missing file.
   */
  touch(): void {
    this.write('');
  }

  append(entry: Record<string, unknown>): void {
    this.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
  }

  private write(text: string): void {
    this.queue = this.queue
      .then(() => mkdir(dirname(this.file), { recursive: true }))
      .then(() => appendFile(this.file, text))
      .catch((err: unknown) => {
        this.errors += 1;
        try {
          this.onError(err);
        } catch {
          // a failing reporter must not break the chain
        }
      });
  }

  flush(): Promise<void> {
    return this.queue;
  }
}
