import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isRoot } from '../../common/os-user.ts';
import { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import { readProcStat } from '../../manager/providers/local/proc-stat.ts';
import type { ReplicaRecord } from '../../manager/providers/local/replica-store.ts';
import { localConfig, pidAlive, startProvider, uniqueDeployment, waitFor } from '../helpers/resources.ts';

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

describe('local provider: an address given to create', () => {
  it('is claimed like a pooled one, and destroy keepAddress holds it for the next create on it', async (t) => {
    const a = await startProvider(t);
    const b = await startProvider(t);
    const first = await a.waitReady((await a.create('broker', 'mosquitto')).id, 10_000);
    await assert.rejects(
      b.create('broker', 'mosquitto', { host: first.host }),
      /is claimed by a replica/,
      "another provider cannot create on a replica's address",
    );
    await a.destroy(first.id, { keepAddress: true });
    // The kept address is not handed out by another provider, nor can it be asked for.
    const other = await b.waitReady((await b.create('broker', 'mosquitto')).id, 10_000);
    assert.notEqual(other.host, first.host);
    await assert.rejects(b.create('broker', 'mosquitto', { host: first.host }), /is claimed by a replica/);
    const back = await a.waitReady((await a.create('broker', 'mosquitto', { host: first.host })).id, 10_000);
    assert.equal(back.url, first.url);
    // A plain destroy lets it go: the other provider may now take it.
    await a.destroy(back.id);
    const taken = await b.waitReady((await b.create('broker', 'mosquitto', { host: first.host })).id, 10_000);
    assert.equal(taken.url, first.url);
  });
});

describe('local provider: a state folder the broker user cannot reach', () => {
  it("refuses a Mosquitto replica with the folder and the fix named, and creates it once it's crossable", async (t) => {
    if (!isRoot()) {
      t.skip('not root: Mosquitto keeps its user and reaches any folder the provider reaches');
      return;
    }
    // Run as root, Mosquitto drops to its own user, then opens its password file and saves its
    // persistence file in the replica's data folder: behind a private folder it could do neither.
    const base = await mkdtemp(join(tmpdir(), 'brokel-closed-'));
    t.after(() => rm(base, { recursive: true, force: true }));
    const provider = await startProvider(t, { stateDir: join(base, 'state') });
    await assert.rejects(provider.create('broker', 'mosquitto'), (err: Error) => {
      assert.match(err.message, /creating a mosquitto replica failed: the mosquitto user cannot reach/);
      assert.ok(err.message.includes(`${base} (owner uid 0`), err.message);
      assert.ok(err.message.includes(`mode 0700`), err.message);
      assert.ok(err.message.includes(`chmod o+x ${base}`), err.message);
      return true;
    });
    assert.deepEqual(await provider.list(), [], 'nothing left of the refused replica');
    assert.deepEqual(await readdir(join(base, 'state', 'replicas')), []);
    await chmod(base, 0o755);
    const broker = await provider.waitReady((await provider.create('broker', 'mosquitto')).id, 10_000);
    assert.equal(broker.state, 'ready');
  });
});
