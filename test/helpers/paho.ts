import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./paho-client.py', import.meta.url));

/** One line of paho-client.py's output: the step's index and op, and what it returned. */
export interface PahoResult {
  step: number;
  op: string;
  error?: string;
  sessionPresent?: boolean;
  reasonCode?: number;
  granted?: number[];
  messages?: Array<{
    topic: string;
    payload: string;
    qos: number;
    retain: boolean;
    properties?: PahoProperties;
  }>;
}

/** A v5 PUBLISH's properties as paho-client.py takes and reports them. */
export interface PahoProperties {
  userProperties?: Array<[string, string]>;
  contentType?: string;
  responseTopic?: string;
  correlationData?: string;
  messageExpiry?: number;
  payloadFormat?: number;
}

export type PahoStep = Record<string, unknown> & { op: string };

/**
 * Runs Debian's python3-paho-mqtt through test/helpers/paho-client.py (Debian's /usr/bin/python3:
 * the pyenv python3 on PATH has no paho) against 127.0.0.1:port. `results` fills as steps finish;
 * `step(i)` waits for one; `done` resolves with every result when the script exits. Killed (by PID)
 * after timeoutMs and at teardown.
 */
export function runPaho(t: TestContext, port: number, steps: PahoStep[], timeoutMs = 45_000) {
  const child = spawn('/usr/bin/python3', [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
  const results: PahoResult[] = [];
  let stderr = '';
  let buffered = '';
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      results.push(JSON.parse(buffered.slice(0, nl)) as PahoResult);
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf('\n');
    }
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const kill = () => {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  t.after(kill);
  const done = new Promise<PahoResult[]>((resolve, reject) => {
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      for (const w of waiters.splice(0)) w();
      const failed = results.find((r) => r.error !== undefined);
      if (code === 0) resolve(results);
      else
        reject(
          new Error(
            `paho: ${failed ? `step ${failed.step} (${failed.op}): ${failed.error}` : `exit ${code ?? signal}`} ${stderr}`,
          ),
        );
    });
  });
  child.stdin.end(JSON.stringify({ host: '127.0.0.1', port, steps }));
  /** Resolves with step i's result once it is out; rejects if the script ends without it. */
  const step = async (i: number): Promise<PahoResult> => {
    for (;;) {
      const found = results.find((r) => r.step === i);
      if (found) return found;
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`paho ended before step ${i}: ${stderr}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { results, step, done, kill };
}
