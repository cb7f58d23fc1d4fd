// test-timeout-ms: 600000
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { describe, it, type TestContext } from 'node:test';
import { ConfigError } from '../../common/errors.ts';
import { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import {
  connectClient,
  leftoverCgroups,
  localConfig,
  pidAlive,
  processTree,
  startProvider,
  uniqueDeployment,
  waitFor,
} from '../helpers/resources.ts';

/** Publishes one QoS 1 message on the broker at url and checks a subscriber there receives it. */
async function assertRoundTrip(t: TestContext, url: string, protocolVersion: 4 | 5 = 4): Promise<void> {
  const sub = await connectClient(t, url, { protocolVersion });
  const pub = await connectClient(t, url, { protocolVersion });
  const topic = `rt/${Math.random().toString(36).slice(2)}`;
  await sub.subscribeAsync(topic, { qos: 1 });
  const received = new Promise<string>((resolve) =>
    sub.on('message', (_t, payload) => resolve(payload.toString())),
  );
  await pub.publishAsync(topic, `hello ${url}`, { qos: 1 });
  assert.equal(await received, `hello ${url}`);
}

/**
 * CPU seconds of a process tree from /proc/<pid>/schedstat (the scheduler's own nanosecond count per
 * task), independent of the provider's cgroup reading and, unlike utime/stime, not tick-sampled.
 */
function treeCpuSeconds(root: number): number {
  let ns = 0;
  for (const pid of processTree(root)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {}
  }
  return ns / 1e9;
}

describe('local provider (real Mosquitto replicas)', () => {
  it('starts 2 Mosquitto and 1 RabbitMQ replica on their own loopback addresses, each answering MQTT', async (t) => {
    const provider = await startProvider(t);
    const rabbit = await provider.create('broker', 'rabbitmq');
    const a = await provider.create('broker', 'mosquitto', { cpuQuota: 0.25 });
    const b = await provider.create('broker', 'mosquitto');
    assert.equal(a.state, 'booting');
    const [ra, rb, rr] = await Promise.all([
      provider.waitReady(a.id, 10_000),
      provider.waitReady(b.id, 10_000),
      provider.waitReady(rabbit.id, 90_000),
    ]);
    assert.equal(new Set([ra.host, rb.host, rr.host]).size, 3, 'three addresses');
    for (const r of [ra, rb, rr]) {
      assert.match(r.host, /^127\.42\.\d+\.\d+$/);
      assert.equal(r.port, 1883);
    }
    assert.equal(ra.cpuQuota, 0.25);
    assert.deepEqual(Object.keys(rr.ports).sort(), ['amqp', 'dist', 'epmd']);
    t.diagnostic(
      `boot to ready: mosquitto ${(ra.readyAt ?? 0) - ra.createdAt} ms, rabbitmq ${(rr.readyAt ?? 0) - rr.createdAt} ms`,
    );
    await assertRoundTrip(t, ra.url, 5);
    await assertRoundTrip(t, rb.url, 4);
    await assertRoundTrip(t, rr.url, 4);
    const listed = await provider.list();
    assert.deepEqual(
      listed.map((r) => [r.id, r.state]).sort(),
      [
        [a.id, 'ready'],
        [b.id, 'ready'],
        [rabbit.id, 'ready'],
      ].sort(),
    );
    const rabbitPid = provider.details(rabbit.id)?.pid ?? -1;
    const tree = processTree(rabbitPid);
    assert.ok(tree.length >= 3, 'RabbitMQ runs several processes');
    const cpu = await provider.cpu([rabbit.id]);
    assert.ok((cpu.get(rabbit.id) ?? -1) >= 0);
    await provider.destroy(rabbit.id);
    assert.deepEqual(
      tree.filter(pidAlive),
      [],
      'no RabbitMQ process (beam.smp, epmd, port programs) outlives destroy',
    );
  });

  it('gives each replica 127.0.0.1 and its own port with addressing: ports', async (t) => {
    const provider = await startProvider(t, { addressing: 'ports' });
    const r = await provider.waitReady((await provider.create('broker', 'mosquitto')).id, 10_000);
    assert.equal(r.host, '127.0.0.1');
    assert.notEqual(r.port, 1883);
    await assertRoundTrip(t, r.url);
  });

  it('keeps a replica booting for bootDelaySeconds, like a VM starting', async (t) => {
    const provider = await startProvider(t, { bootDelaySeconds: 1 });
    const started = Date.now();
    const r = await provider.create('broker', 'mosquitto');
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal((await provider.list())[0]?.state, 'booting');
    await provider.waitReady(r.id, 10_000);
    assert.ok(Date.now() - started >= 1000, 'ready before the boot delay passed');
  });

  it('boots a replica at provider.local.bootCpuQuota, then gives it its own quota and does not count the boot as load', async (t) => {
    const provider = await startProvider(t, { bootDelaySeconds: 3, bootCpuQuota: 1 });
    const r = await provider.create('broker', 'mosquitto', { cpuQuota: 0.05 });
    const group = (controller: string) => `/sys/fs/cgroup/${controller}/brokel/${r.id}`;
    const quota = () => Number(readFileSync(`${group('cpu')}/cpu.cfs_quota_us`, 'utf8'));
    assert.equal(quota(), 100_000, 'one core while it boots');
    // Boot work: a process in the replica's groups burns ~0.4 s of CPU, then exits, before the replica is
    // ready. Read against the replica's own 0.05 core, that would be a load far above 1.
    const burner = spawn(process.execPath, ['-e', 'const e = Date.now() + 400; while (Date.now() < e);'], {
      stdio: 'ignore',
    });
    const burnerExit = new Promise((resolve) => burner.once('exit', resolve));
    for (const controller of ['cpu', 'cpuacct'])
      writeFileSync(`${group(controller)}/cgroup.procs`, String(burner.pid));
    await burnerExit;
    assert.equal(
      (await provider.list())[0]?.state,
      'booting',
      'the boot work ended before the replica was ready',
    );
    await provider.waitReady(r.id, 10_000);
    assert.equal(quota(), 5_000, '0.05 core once ready');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const load = (await provider.cpu([r.id])).get(r.id) ?? -1;
    assert.ok(load >= 0 && load < 0.2, `an idle replica just booted read ${load} of its quota`);
  });

  it('reads CPU as a fraction of the quota: a saturated replica near 1, an idle one near 0, matching /proc schedstat', async (t) => {
    const provider = await startProvider(t);
    const busy = await provider.waitReady(
      (await provider.create('broker', 'mosquitto', { cpuQuota: 0.2 })).id,
      10_000,
    );
    const idle = await provider.waitReady(
      (await provider.create('broker', 'mosquitto', { cpuQuota: 0.2 })).id,
      10_000,
    );
    const busyPid = provider.details(busy.id)?.pid ?? -1;
    const sub = await connectClient(t, busy.url);
    const pub = await connectClient(t, busy.url);
    await sub.subscribeAsync('load/#', { qos: 0 });
    let received = 0;
    sub.on('message', () => {
      received += 1;
    });
    const payload = Buffer.alloc(100, 'x');
    // Bounded load: at most 3 s and 2,000,000 messages, QoS 0, flow-controlled by the socket.
    const publishFor = async (ms: number) => {
      const end = Date.now() + ms;
      let sent = 0;
      while (Date.now() < end && sent < 2_000_000) {
        for (let i = 0; i < 200; i++) pub.publish(`load/${sent++ % 16}`, payload, { qos: 0 });
        if (pub.stream.writableNeedDrain) await new Promise((r) => pub.stream.once('drain', r));
        else await new Promise((r) => setImmediate(r));
      }
      return sent;
    };
    await publishFor(500); // warm up to saturation
    await provider.cpu([busy.id, idle.id]); // start of the measured interval
    const procStart = treeCpuSeconds(busyPid);
    const wallStart = Date.now();
    const sent = await publishFor(3000);
    const readings = await provider.cpu([busy.id, idle.id]);
    const procUsed = treeCpuSeconds(busyPid) - procStart;
    const independent = procUsed / ((Date.now() - wallStart) / 1000) / 0.2;
    const busyCpu = readings.get(busy.id) ?? -1;
    const idleCpu = readings.get(idle.id) ?? -1;
    t.diagnostic(
      `sent ${sent}, received ${received}; busy ${busyCpu.toFixed(3)} (schedstat ${independent.toFixed(3)}), idle ${idleCpu.toFixed(3)}`,
    );
    // Near 1; the publisher shares 2 cores with the rest of the machine, so it may not quite saturate
    // the replica (0.84 seen on a loaded CI run). What must hold is the agreement with schedstat below.
    assert.ok(busyCpu > 0.7 && busyCpu < 1.1, `saturated replica read ${busyCpu}`);
    assert.ok(idleCpu >= 0 && idleCpu < 0.05, `idle replica read ${idleCpu}`);
    assert.ok(
      Math.abs(busyCpu - independent) / independent < 0.1,
      `provider ${busyCpu} vs schedstat ${independent}`,
    );
  });

  it('reports a replica killed from outside as failed, with its exit signal and last log lines', async (t) => {
    const provider = await startProvider(t);
    const r = await provider.waitReady(
      (await provider.create('broker', 'mosquitto', { cpuQuota: 0.25 })).id,
      10_000,
    );
    const pid = provider.details(r.id)?.pid ?? -1;
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => (await provider.list())[0]?.state === 'failed', 5000, 'failed state');
    const failed = (await provider.list())[0];
    assert.equal(failed?.failure?.signal, 'SIGKILL');
    assert.equal(failed?.failure?.exitCode, null);
    assert.ok(
      failed?.failure?.logTail.some((line) => line.includes('mosquitto version')),
      'log tail has the broker output',
    );
    assert.equal((await provider.cpu([r.id])).get(r.id), undefined);
    const dir = provider.details(r.id)?.dir ?? '';
    await provider.destroy(r.id);
    assert.equal(pidAlive(pid), false);
    assert.deepEqual(await provider.list(), []);
    assert.equal(existsSync(dir), false, 'replica dir removed');
    assert.ok(!(await provider.list()).some((x) => x.id === r.id));
  });

  it('destroy and stop leave no process, cgroup or folder behind', async (t) => {
    const provider = await startProvider(t);
    const ids = [];
    for (let i = 0; i < 3; i++)
      ids.push((await provider.create('broker', 'mosquitto', { cpuQuota: 0.25 })).id);
    await Promise.all(ids.map((id) => provider.waitReady(id, 10_000)));
    const pids = ids.map((id) => provider.details(id)?.pid ?? -1);
    const deployment = ids[0]?.split('-b')[0] ?? '';
    assert.equal(leftoverCgroups(deployment).length, 6, 'cpu and cpuacct groups per replica');
    await provider.destroy(ids[0] ?? '');
    assert.equal(pidAlive(pids[0] ?? -1), false);
    await provider.destroy(ids[0] ?? ''); // idempotent
    await provider.stop();
    assert.deepEqual(pids.filter(pidAlive), []);
    assert.deepEqual(leftoverCgroups(deployment), []);
    assert.equal(existsSync(provider.stateDir), false);
    await assert.rejects(provider.create('broker', 'mosquitto'), /stopped/);
  });

  it('rejects bad options with errors that name the option', async (t) => {
    const provider = await startProvider(t);
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as { port: number }).port;
    const cases: Array<[Promise<unknown>, RegExp]> = [
      [
        provider.create('broker', 'kafka'),
        /template: unknown template "kafka" \(known: mosquitto, rabbitmq, orchestrator\)/,
      ],
      [provider.create('broker', 'mosquitto', { cpuQuota: 0 }), /options\.cpuQuota: 0 is not above 0/],
      [
        provider.create('broker', 'mosquitto', { cpuQuota: 99 }),
        /options\.cpuQuota: 99 is above the \d+ cores/,
      ],
      [
        provider.create('broker', 'mosquitto', { host: '127.0.0.1', port }),
        new RegExp(`options\\.host: 127\\.0\\.0\\.1:${port} is already in use`),
      ],
      [
        provider.create('broker', 'mosquitto', { params: { maxQueuedMessages: 'lots' } }),
        /params\.maxQueuedMessages: expected number/,
      ],
    ];
    for (const [attempt, message] of cases) {
      await assert.rejects(attempt, (err: Error) => err instanceof ConfigError && message.test(err.message));
    }
    assert.deepEqual(await provider.list(), [], 'nothing half-created');
  });
});

describe('local provider across manager restarts', () => {
  async function startChild(deployment: string) {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/helpers/provider-child.ts', deployment, '2'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
    });
    const info = JSON.parse(line) as {
      stateDir: string;
      replicas: Array<{ id: string; url: string; pid: number }>;
    };
    return { child, info, exited: new Promise((resolve) => child.once('exit', resolve)) };
  }

  it('leaves nothing behind when its process is stopped with SIGTERM', async () => {
    const deployment = `term${process.pid}`;
    const { child, info, exited } = await startChild(deployment);
    assert.equal(info.replicas.length, 2);
    assert.ok(info.replicas.every((r) => pidAlive(r.pid)));
    child.kill('SIGTERM');
    await exited;
    assert.deepEqual(
      info.replicas.filter((r) => pidAlive(r.pid)),
      [],
    );
    assert.deepEqual(leftoverCgroups(deployment), []);
    assert.equal(existsSync(info.stateDir), false);
  });

  it('stop() called twice: the second resolves once every replica, its cgroup and its state are gone', async (t) => {
    const deployment = uniqueDeployment();
    const provider = await LocalProvider.start({ deployment, config: localConfig(), pollIntervalMs: 50 });
    t.after(() => provider.stop());
    const r = await provider.create('broker', 'mosquitto', { cpuQuota: 0.5 });
    await provider.waitReady(r.id, 10_000);
    const pid = provider.details(r.id)?.pid ?? -1;
    assert.ok(pidAlive(pid));
    // A bench's signal handler calls stop() while its own `finally` is stopping the provider.
    const first = provider.stop();
    await provider.stop();
    assert.equal(pidAlive(pid), false, 'the replica is gone when the second stop() resolves');
    assert.deepEqual(leftoverCgroups(deployment), []);
    assert.equal(existsSync(provider.stateDir), false);
    await first;
  });

  it('adopts the replicas a SIGKILLed process left, with no orphan and no double creation', async (t) => {
    const deployment = `kill${process.pid}`;
    const { child, info, exited } = await startChild(deployment);
    child.kill('SIGKILL');
    await exited;
    assert.ok(
      info.replicas.every((r) => pidAlive(r.pid)),
      'replicas outlive a SIGKILLed manager',
    );
    const provider = await LocalProvider.start({ deployment, config: localConfig(), pollIntervalMs: 50 });
    t.after(() => provider.stop());
    const adopted = await provider.list();
    assert.deepEqual(
      adopted.map((r) => [r.id, r.state, r.url]).sort(),
      info.replicas.map((r) => [r.id, 'ready', r.url]).sort(),
    );
    const next = await provider.create('broker', 'mosquitto');
    assert.ok(!info.replicas.some((r) => r.id === next.id), 'a new replica gets a new id');
    await provider.waitReady(next.id, 10_000);
    assert.notEqual(next.host, info.replicas[0]?.url.slice(7, -5));
    const cpu = await provider.cpu(info.replicas.map((r) => r.id));
    assert.ok([...cpu.values()].every((v) => v === undefined || v >= 0));
    await provider.stop();
    assert.deepEqual(
      info.replicas.filter((r) => pidAlive(r.pid)),
      [],
    );
    assert.deepEqual(leftoverCgroups(deployment), []);
  });
});
