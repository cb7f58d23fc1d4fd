import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import type { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import { delayRelay } from './delay-relay.ts';
import { startProvider } from './resources.ts';

/**
 * The QoS 1 broker-loss harness shared by broker-loss-acks.test.ts and bench/replay-window.ts: three
 * Mosquittos from the local provider (the first reached through a relay that makes its answers
 * `lateMs` late, when > 0), and Debian's mosquitto_pub feeding QoS 1 lines while a test kills one.
 */
export async function threeMosquittos(
  t: TestContext,
  lateMs = 0,
): Promise<{ provider: LocalProvider; ids: string[]; urls: string[] }> {
  const provider = await startProvider(t);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await provider.create('broker', 'mosquitto')).id);
  const ready = await Promise.all(ids.map((id) => provider.waitReady(id, 10_000)));
  const urls = ready.map((r) => r.url);
  const first = ready[0];
  if (first && lateMs > 0) urls[0] = (await delayRelay(t, first, lateMs)).url;
  return { provider, ids, urls };
}

/**
 * Debian's mosquitto_pub in line mode (-l, QoS 1, MQTT 3.1.1) on `topic`, one message `name:seq` per
 * line fed at `perSecond`; its input ends 200 ms after the last line. Resolves with its exit code, or
 * 'hung' when it has not exited `graceMs` after that (it exits once its last message is acknowledged).
 */
export function linePublisher(
  t: TestContext,
  port: number,
  topic: string,
  name: string,
  count: number,
  perSecond: number,
  graceMs: number,
): Promise<number | 'hung'> {
  const child = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-l', '-t', topic]);
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
  return new Promise((resolve) => {
    let next = 0;
    const perTick = Math.max(1, Math.round(perSecond / 100));
    const timer = setInterval(() => {
      let lines = '';
      for (let i = 0; i < perTick && next < count; i++) lines += `${name}:${next++}\n`;
      child.stdin.write(lines);
      if (next < count) return;
      clearInterval(timer);
      setTimeout(() => child.stdin.end(), 200);
      const hung = setTimeout(() => resolve('hung'), 200 + graceMs);
      void exited.then((code) => {
        clearTimeout(hung);
        resolve(code);
      });
    }, 10);
  });
}
