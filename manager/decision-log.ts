import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Appends one JSON object per line (observations, decisions, actions); never throws at the caller. */
export class DecisionLog {
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  append(entry: Record<string, unknown>): void {
    const line = `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`;
    this.queue = this.queue
      .then(() => mkdir(dirname(this.file), { recursive: true }))
      .then(() => appendFile(this.file, line))
      .catch(() => undefined);
  }

  flush(): Promise<void> {
    return this.queue;
  }
}
