// test-timeout-ms: 120000
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../../manager/providers/local/address-pool.ts';
import { up, workDir } from '../helpers/brokel-process.ts';
import { dig } from '../helpers/dns.ts';
import { defer } from '../helpers/remote-provider.ts';
import { brokerRecords } from '../helpers/replica-records.ts';
import { pidAlive, waitFor, within } from '../helpers/resources.ts';

interface Status {
  levels: Array<{
    level: string;
    actionInFlight?: string;
    replicas: Array<{ id: string; state: string; poolState?: string }>;
  }>;
}

/** GET with a 1 s bound; undefined while nothing answers. */
async function get(url: string): Promise<string | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return r.ok ? await r.text() : undefined;
  } catch {
    return undefined;
  }
}

const brokerLevel = (s: Status) => s.levels.find((l) => l.level === 'broker');

describe('a manager restart while a broker is SIGSTOPped (issue 17)', () => {
  it('the restarted manager answers its API and geo-dns, prints that it is up and ticks within seconds while the broker stays stopped; the replacement joins once it resumes', async (t) => {
    const dir = await workDir(t, 'brokel-stalled-');
    const deployment = `st${process.pid}`;
    const apiPort = await freePort('127.0.0.1');
    const dnsPort = await freePort('127.0.0.1');
    const api = `http://127.0.0.1:${apiPort}`;
    const file = join(dir, 'brokel.yaml');
    await writeFile(
      file,
      [
        `deployment: ${deployment}`,
        `manager: { decisionLog: ${join(dir, 'decisions.jsonl')} }`,
        'monitor: { intervalSeconds: 0.5, warmupObservations: 1 }',
        'levels: { brokers: { min: 2, max: 2 }, orchestrators: { min: 1, max: 1 } }',
        `api: { listen: 127.0.0.1:${apiPort} }`,
        `dns: { listen: 127.0.0.1:${dnsPort} }`,
        '',
      ].join('\n'),
    );
    const first = await up(t, file);
    const [stalled, dead] = await brokerRecords(deployment);
    assert.ok(stalled && dead, 'two brokers');
    // Alive but answering nothing: the kernel still accepts TCP connections, no MQTT comes back.
    process.kill(-stalled.pid, 'SIGSTOP');
    let resumed = false;
    const resume = () => {
      if (resumed) return;
      resumed = true;
      try {
        process.kill(-stalled.pid, 'SIGCONT');
      } catch {
        // gone already
      }
    };
    // Resumed before anything is torn down (the restarted manager's SIGTERM destroys every replica).
    defer(t, async () => resume());
    first.child.kill('SIGKILL');
    await first.exited;
    // The other broker dies while no manager runs: the restart replaces it, and that join's retained
    // move reads every active broker, the stopped one too (before the fix, start-up waited on it).
    process.kill(-dead.pid, 'SIGKILL');
    await waitFor(() => !pidAlive(dead.pid), 5000, 'the other broker gone');
    const started = performance.now();
    const second = spawn(process.execPath, ['bin/brokel.js', 'up', '-c', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BROKEL_LOG_LEVEL: 'warn' },
    });
    let out = '';
    second.stdout.on('data', (d) => {
      out += d;
    });
    second.stderr.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<void>((resolve) => second.once('exit', () => resolve()));
    defer(t, async () => {
      resume();
      if (pidAlive(second.pid ?? -1)) second.kill('SIGTERM');
      await within(exited, 60_000, 'the restarted brokel up to exit');
    });
    const since = () => (performance.now() - started) / 1000;
    try {
      await waitFor(async () => (await get(`${api}/api/status`)) !== undefined, 10_000, 'the API');
      const apiSeconds = since();
      await waitFor(
        async () =>
          ((await dig(dnsPort, 'mqtt.brokel.test', 'A').catch(() => undefined))?.answers.length ?? 0) > 0,
        10_000,
        `geo-dns to answer the service name (output: ${out})`,
      );
      const dnsSeconds = since();
      await waitFor(() => /^Ctrl-C /m.test(out), 10_000, `brokel up to print that it is up (output: ${out})`);
      const printedSeconds = since();
      // A new tick of the restarted loop (its decision counter starts at 0).
      await waitFor(
        async () => {
          const m = /brokel_manager_decisions_total\{level="orchestrator",action="none"\} (\d+)/.exec(
            (await get(`${api}/metrics`)) ?? '',
          );
          return Number(m?.[1] ?? 0) > 0;
        },
        10_000,
        'a tick of the restarted manager',
      );
      const tickSeconds = since();
      t.diagnostic(
        `after the restart: API ${apiSeconds.toFixed(1)} s, geo-dns ${dnsSeconds.toFixed(1)} s, ` +
          `printed up ${printedSeconds.toFixed(1)} s, a tick ${tickSeconds.toFixed(1)} s`,
      );
      // The replacement's join is the broker level's action in flight, waiting on the stopped broker.
      const during = JSON.parse((await get(`${api}/api/status`)) ?? '{}') as Status;
      assert.match(brokerLevel(during)?.actionInFlight ?? '', /refill to the minimum/);
      assert.equal(second.exitCode, null, 'the restarted manager still runs');
      // Once the broker answers again, the join finishes: two active brokers, the dead one gone.
      resume();
      await waitFor(
        async () => {
          const s = JSON.parse((await get(`${api}/api/status`)) ?? '{}') as Status;
          const bs = brokerLevel(s)?.replicas ?? [];
          return (
            bs.length === 2 &&
            bs.every((b) => b.poolState === 'active' && b.id !== dead.id) &&
            bs.some((b) => b.id === stalled.id)
          );
        },
        20_000,
        `the replacement active beside the resumed broker (output: ${out})`,
      );
    } finally {
      resume();
    }
  });
});
