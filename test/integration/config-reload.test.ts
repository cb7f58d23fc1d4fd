// test-lanes: shared
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../../manager/providers/local/address-pool.ts';
import { up } from '../helpers/brokel-process.ts';
import { defer } from '../helpers/remote-provider.ts';
import { waitFor, within } from '../helpers/resources.ts';

const run = promisify(execFile);

interface Status {
  configError: string | null;
  restartRequired?: string[];
  thresholds: { brokers: { upper: number } };
}

describe('brokel up hot reload (issue 11, defect 2)', () => {
  it('sees a ConfigMap symlink swap and an editor rename-replace, and reports changes that need a restart', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'brokel-reload-'));
    defer(t, () => rm(dir, { recursive: true, force: true }));
    const deployment = `rl${process.pid}`;
    const apiPort = await freePort('127.0.0.1');
    const yaml = (upper: number, routing = 'round-robin') =>
      [
        `deployment: ${deployment}`,
        `manager: { decisionLog: ${join(dir, 'decisions.jsonl')} }`,
        'monitor: { intervalSeconds: 1, warmupObservations: 100 }',
        `levels: { brokers: { min: 1, max: 1, upper: ${upper}, cpuQuota: 0.2 }, orchestrators: { min: 1, max: 1 } }`,
        `routing: ${routing}`,
        `api: { listen: 127.0.0.1:${apiPort} }`,
        'dns: { enabled: false }',
        '',
      ].join('\n');
    // A ConfigMap volume: brokel.yaml → ..data/brokel.yaml, ..data → ..<timestamp>/
    let generation = 0;
    const publish = async (text: string) => {
      generation += 1;
      const folder = `..2026_12_01_00_00_0${generation}`;
      await mkdir(join(dir, folder));
      await writeFile(join(dir, folder, 'brokel.yaml'), text);
      await symlink(folder, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data')); // the kubelet's atomic swap
      if (generation > 1) await rm(join(dir, `..2026_12_01_00_00_0${generation - 1}`), { recursive: true });
    };
    await publish(yaml(0.7));
    const file = join(dir, 'brokel.yaml');
    await symlink(join('..data', 'brokel.yaml'), file);
    const manager = await up(t, file, ['--keep-replicas']);
    // Teardown in reverse order: the manager stops and `brokel down` runs before the folder goes.
    defer(t, async () => {
      manager.child.kill('SIGTERM');
      await within(manager.exited, 30_000, 'brokel up to exit');
      await run(process.execPath, ['bin/brokel.js', 'down', '-c', file], { timeout: 60_000 });
    });
    const status = async () =>
      (await (await fetch(`http://127.0.0.1:${apiPort}/api/status`)).json()) as Status;
    assert.equal((await status()).thresholds.brokers.upper, 0.7);
    await publish(yaml(0.8));
    await waitFor(async () => (await status()).thresholds.brokers.upper === 0.8, 10_000, 'the swap seen');
    // An editor's save: write a temporary file, rename it over the config.
    await writeFile(join(dir, 'brokel.yaml.tmp'), yaml(0.85));
    await rename(join(dir, 'brokel.yaml.tmp'), file);
    await waitFor(async () => (await status()).thresholds.brokers.upper === 0.85, 10_000, 'the rename seen');
    // Routing cannot change without a restart: applied thresholds, reported routing.
    await writeFile(join(dir, 'brokel.yaml.tmp'), yaml(0.9, 'topic-affinity'));
    await rename(join(dir, 'brokel.yaml.tmp'), file);
    await waitFor(async () => (await status()).thresholds.brokers.upper === 0.9, 10_000, 'the third change');
    assert.deepEqual((await status()).restartRequired, ['routing']);
    const printed = await run(process.execPath, ['bin/brokel.js', 'status', '-c', file], { timeout: 30_000 });
    assert.match(printed.stdout, /^config changes waiting for a restart: routing$/m);
    const json = JSON.parse(
      (await run(process.execPath, ['bin/brokel.js', 'status', '--json', '-c', file], { timeout: 30_000 }))
        .stdout,
    ) as Status;
    assert.deepEqual(json.restartRequired, ['routing']);
  });
});
