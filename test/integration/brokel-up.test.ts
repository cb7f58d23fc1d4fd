// test-lanes: shared
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../../manager/providers/local/address-pool.ts';
import { up } from '../helpers/brokel-process.ts';
import { dig } from '../helpers/dns.ts';
import { publishSeq, settle, subscriber } from '../helpers/orchestrator.ts';
import { connectClient, leftoverCgroups, pidAlive, waitFor, within } from '../helpers/resources.ts';

const run = promisify(execFile);

interface Status {
  configError: string | null;
  thresholds: { brokers: { upper: number } };
  levels: Array<{
    level: string;
    replicas: Array<{ id: string; url: string; state: string }>;
    manualTarget?: number;
  }>;
}

function configYaml(
  deployment: string,
  apiPort: number,
  upper: number | string,
  dir: string,
  dnsPort: number,
): string {
  return [
    `deployment: ${deployment}`,
    `manager: { decisionLog: ${join(dir, 'decisions.jsonl')} }`,
    'monitor: { intervalSeconds: 0.5, warmupObservations: 2 }',
    `levels: { brokers: { min: 1, max: 2, upper: ${upper}, cpuQuota: 0.5 }, orchestrators: { min: 1, max: 1 } }`,
    `api: { listen: 127.0.0.1:${apiPort} }`,
    `dns: { listen: 127.0.0.1:${dnsPort} }`,
    '',
  ].join('\n');
}

async function status(apiPort: number): Promise<Status> {
  return (await (await fetch(`http://127.0.0.1:${apiPort}/api/status`)).json()) as Status;
}

const ids = (s: Status) => s.levels.flatMap((l) => l.replicas.map((r) => r.id)).sort();

describe('brokel up (the real command, as a process)', () => {
  it('reloads thresholds hot, refuses a bad file, survives SIGHUP, and after SIGKILL a restart adopts the same replicas', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'brokel-up-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const deployment = `up${process.pid}`;
    const apiPort = await freePort('127.0.0.1');
    const dnsPort = await freePort('127.0.0.1');
    const file = join(dir, 'brokel.yaml');
    await writeFile(file, configYaml(deployment, apiPort, 0.7, dir, dnsPort));
    const first = await up(t, file);
    // It says where the dashboard is, and the page is there.
    assert.equal(first.dashboard, `http://127.0.0.1:${apiPort}/`);
    const page = await fetch(first.dashboard);
    assert.match(String(page.headers.get('content-type')), /^text\/html/);
    assert.match(await page.text(), /<title>Brokel dashboard<\/title>/);
    const before = await status(apiPort);
    assert.equal(ids(before).length, 2, 'one broker and one orchestrator');
    // `brokel status` reads the running manager's API.
    const printed = await run(process.execPath, ['bin/brokel.js', 'status', '-c', file]);
    assert.match(printed.stdout, new RegExp(`deployment ${deployment}`));
    assert.match(printed.stdout, /^broker level: load .*thresholds 0\.3–0\.7, min 1 max 2/m);
    assert.match(printed.stdout, /^orchestrator level: /m);
    const json = JSON.parse(
      (await run(process.execPath, ['bin/brokel.js', 'status', '--json', '-c', file])).stdout,
    ) as Status;
    assert.deepEqual(ids(json), ids(before));
    // `brokel rebalance` needs the admin token: it finds the one `brokel up` keeps in its state dir.
    const rebalanced = await run(process.execPath, ['bin/brokel.js', 'rebalance', '-c', file]);
    assert.match(rebalanced.stdout, /^rebalance started/m);
    // Hot reload: a bad file is refused with its path-qualified error, the running config stays.
    await writeFile(file, configYaml(deployment, apiPort, 1.4, dir, dnsPort));
    await waitFor(
      async () =>
        (await status(apiPort)).configError?.includes('levels.brokers.upper: 1.4 is above 1') === true,
      10_000,
      'config error shown',
    );
    assert.equal((await status(apiPort)).thresholds.brokers.upper, 0.7);
    await writeFile(file, configYaml(deployment, apiPort, 0.8, dir, dnsPort));
    first.child.kill('SIGHUP'); // also a reload trigger; it must not end the process
    await waitFor(
      async () => (await status(apiPort)).thresholds.brokers.upper === 0.8,
      10_000,
      'new threshold',
    );
    assert.equal((await status(apiPort)).configError, null);
    assert.equal(first.child.exitCode, null, 'SIGHUP did not end brokel up');
    // `brokel scale` sets a manual target (the token found in the state dir); it must outlive the manager.
    await run(process.execPath, ['bin/brokel.js', 'scale', 'brokers', '1', '-c', file]);
    const target = (s: Status) => s.levels.find((l) => l.level === 'broker')?.manualTarget;
    assert.equal(target(await status(apiPort)), 1);
    // SIGKILL: the replicas outlive the manager.
    const orchestratorUrl = before.levels.find((l) => l.level === 'orchestrator')?.replicas[0]?.url ?? '';
    first.child.kill('SIGKILL');
    await first.exited;
    const sub = await subscriber(t, orchestratorUrl, 'up/#', 1);
    const pub = await connectClient(t, orchestratorUrl);
    await publishSeq(pub, 'a', ['up/1'], 20, 1);
    await settle([sub.counts], 20);
    assert.equal(sub.counts.distinct, 20, 'the data plane works while no manager runs');
    // Restart: the same replicas, adopted; nothing new created; the orchestrators still obey it.
    const second = await up(t, file);
    const after = await status(apiPort);
    assert.deepEqual(ids(after), ids(before));
    assert.equal(target(after), 1, 'the manual target survives the restart (kept in the state dir)');
    // The in-process geo-dns answers with the adopted orchestrator.
    const answer = await dig(dnsPort, 'mqtt.brokel.test', 'A');
    assert.deepEqual(
      answer.answers.map((a) => a[3]),
      [new URL(orchestratorUrl).hostname],
    );
    const metricsText = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    assert.match(metricsText, /brokel_dns_queries_total\{type="A",rcode="NOERROR",transport="udp"\} 1/);
    // A new tick of the restarted process: its decision counter (0 at start) grows.
    await waitFor(
      async () => {
        const r = await fetch(`http://127.0.0.1:${apiPort}/metrics`);
        const m = /brokel_manager_decisions_total\{level="broker",action="none"\} (\d+)/.exec(await r.text());
        return Number(m?.[1] ?? 0) > 0;
      },
      10_000,
      'a tick of the restarted loop',
    );
    await publishSeq(pub, 'b', ['up/1'], 20, 1);
    await settle([sub.counts], 40);
    assert.equal(sub.counts.distinct, 40);
    // SIGTERM: the orchestrators drain first (an MQTT 5 client is told to go elsewhere), then everything stops.
    const v5 = await connectClient(t, orchestratorUrl, { protocolVersion: 5 });
    const told = new Promise<number | undefined>((resolve) =>
      v5.once('disconnect', (p) => resolve(p.reasonCode)),
    );
    second.child.kill('SIGTERM');
    assert.equal(await within(told, 30_000, 'DISCONNECT to the MQTT 5 client'), 0x9c);
    assert.equal(await within(second.exited, 60_000, 'brokel up to exit'), 0);
    assert.match(second.output(), /local demo: destroying every replica/, 'it says the demo ends');
    assert.equal(existsSync(join(tmpdir(), 'brokel', deployment)), false, 'state dir removed');
    assert.deepEqual(leftoverCgroups(deployment), []);
    await waitFor(() => !sub.client.connected, 5000, 'the orchestrator gone');
    assert.equal(pidAlive(second.child.pid ?? -1), false);
  });
});
