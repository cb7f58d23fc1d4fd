import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import { readProcStat } from '../../manager/providers/local/proc-stat.ts';
import type { ReplicaRecord } from '../../manager/providers/local/replica-store.ts';
import { localConfig, pidAlive, uniqueDeployment, waitFor } from '../helpers/resources.ts';

describe('local provider: PID reuse', () => {
  it('never signals a recorded PID whose start time no longer matches (a reused PID)', async (t) => {
    // A process that is not the replica, in its own process group, holding the recorded PID.
    const stranger = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    const pid = stranger.pid ?? -1;
    t.after(() => {
      if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    });
    await waitFor(() => readProcStat(pid) !== undefined, 5000, 'the stranger to start');
    const startTime = readProcStat(pid)?.startTime ?? 0;
    const deployment = uniqueDeployment('reuse');
    const stateDir = await mkdtemp(join(tmpdir(), 'brokel-reuse-'));
    t.after(() => rm(stateDir, { recursive: true, force: true }));
    const id = `${deployment}-b1`;
    const dir = join(stateDir, 'replicas', id);
    await mkdir(dir, { recursive: true });
    const record: ReplicaRecord = {
      id,
      level: 'broker',
      template: 'mosquitto',
      host: '127.0.0.1',
      port: 1,
      url: 'mqtt://127.0.0.1:1',
      state: 'ready',
      cpuQuota: undefined,
      createdAt: Date.now() - 60_000,
      readyAt: Date.now() - 59_000,
      ports: {},
      failure: undefined,
      pid,
      startTime: startTime - 1, // the replica that had this PID started earlier
      dir,
      dataDir: join(dir, 'data'),
      logFile: join(dir, 'replica.log'),
      claims: [],
      cgroup: false,
      bootDelaySeconds: 0,
    };
    await writeFile(join(stateDir, 'replicas', `${id}.json`), JSON.stringify(record));
    const provider = await LocalProvider.start({
      deployment,
      config: localConfig({ stateDir }),
      pollIntervalMs: 50,
    });
    t.after(() => provider.stop());
    assert.equal((await provider.list())[0]?.state, 'failed', 'adoption sees the replica gone');
    await provider.destroy(id);
    await provider.stop();
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(pidAlive(pid), 'the process now holding the PID was not signalled');
    assert.deepEqual(await provider.list(), []);
  });
});
