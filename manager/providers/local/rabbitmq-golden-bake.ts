import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parseRabbitmqParams, renderRabbitmqConf } from '../../../templates/rabbitmq/config.ts';
import { GOLDEN_PLUGINS, goldenKey, goldenRoot, NODENAME } from '../../../templates/rabbitmq/golden.ts';
import { RABBITMQ_SERVER_SCRIPT, rabbitmqCommand, rabbitmqEnv } from '../../../templates/rabbitmq/process.ts';
import { writeCookie } from '../../../templates/rabbitmq/template.ts';
import { freePort } from './address-pool.ts';
import { killGroup, spawnReplica, stopGroup, tailFile } from './replica-process.ts';

// Makes the RabbitMQ template's golden database (templates/rabbitmq/golden.ts says what it is and why):
// run once per machine by scripts/setup.sh (scripts/bake-rabbitmq.ts).

export type BakeResult = 'baked' | 'present' | 'unavailable';

/**
 * Makes the golden database when this machine has RabbitMQ and none is made yet: boots a node on
 * loopback in a scratch dir (the template's own process and environment, no user, no vhost), waits
 * for its MQTT listener, stops it gracefully and keeps its database. Two bakes at once both finish;
 * the first to move its database into place wins (keepFirst). Throws when the node does not boot or stop within the bounds.
 */
export async function bakeGolden(
  options: { root?: string; key?: string; bootTimeoutMs?: number; log?: (line: string) => void } = {},
): Promise<BakeResult> {
  const key = options.key ?? goldenKey();
  if (key === undefined || !existsSync(RABBITMQ_SERVER_SCRIPT)) return 'unavailable';
  const root = options.root ?? goldenRoot();
  const final = join(root, key);
  if (existsSync(join(final, NODENAME))) return 'present';
  await mkdir(root, { recursive: true });
  const scratch = await mkdtemp(join(root, '.bake-'));
  try {
    const dataDir = join(scratch, 'data');
    await mkdir(dataDir);
    const [port, amqpPort, distPort, epmdPort] = [
      await freePort('127.0.0.1'),
      await freePort('127.0.0.1'),
      await freePort('127.0.0.1'),
      await freePort('127.0.0.1'),
    ];
    const definitionsFile = join(dataDir, 'definitions.json');
    await writeFile(definitionsFile, JSON.stringify({ vhosts: [], users: [], permissions: [] }), {
      mode: 0o600,
    });
    await writeFile(
      join(dataDir, 'rabbitmq.conf'),
      renderRabbitmqConf({
        host: '127.0.0.1',
        port,
        amqpPort,
        managementPort: undefined,
        definitionsFile,
        anonymous: undefined,
        params: parseRabbitmqParams({}),
      }),
      { mode: 0o600 },
    );
    await writeFile(join(dataDir, 'enabled_plugins'), GOLDEN_PLUGINS);
    // Its own random cookie, as a replica's: its distribution port listens while it boots.
    await writeCookie(dataDir);
    options.log?.(
      `brokel: making RabbitMQ ${key}'s golden database in ${final} (one boot, once per machine)`,
    );
    const exitCode = await bootAndStop(
      dataDir,
      rabbitmqEnv({ dataDir, distPort, epmdPort }),
      port,
      options.bootTimeoutMs ?? 90_000,
    );
    if (exitCode !== 0)
      throw new Error(
        `the golden RabbitMQ node exited with ${exitCode}${await logTail(join(scratch, 'boot.log'))}`,
      );
    if (!existsSync(join(dataDir, 'mnesia', NODENAME)))
      throw new Error(`the golden RabbitMQ node left no database in ${dataDir}`);
    await keepFirst(join(dataDir, 'mnesia'), final);
    return 'baked';
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Moves a made folder into place in one step unless another bake put one there first (then this one
 * stays where it is, for the caller's clean-up): true when this one is now in place.
 */
export async function keepFirst(made: string, final: string): Promise<boolean> {
  try {
    await rename(made, final);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY') return false;
    throw err;
  }
}

/**
 * Runs the template's process in `dataDir` as the provider runs a replica (spawnReplica: its own
 * process group, no cgroup, no boot delay) until its MQTT port answers, then stops its group
 * gracefully (stopGroup); the node's exit code. Whatever goes wrong, nothing of the group is left.
 */
async function bootAndStop(
  dataDir: string,
  env: Record<string, string>,
  port: number,
  timeoutMs: number,
): Promise<number | null> {
  const logFile = join(dataDir, '..', 'boot.log');
  const spec = { ...rabbitmqCommand(), env };
  const child = await spawnReplica(spec, { logFile, cwd: dataDir, cgroupProcs: [], bootDelaySeconds: 0 });
  let exit: { exitCode: number | null } | undefined;
  void child.exited.then((e) => {
    exit = e;
  });
  let stopped = false;
  try {
    const deadline = Date.now() + timeoutMs;
    while (!(await answers(port))) {
      if (exit !== undefined)
        throw new Error(
          `the golden RabbitMQ node exited before its MQTT listener opened${await logTail(logFile)}`,
        );
      if (Date.now() > deadline)
        throw new Error(
          `the golden RabbitMQ node did not open its MQTT listener within ${timeoutMs} ms${await logTail(logFile)}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
    const { forced } = await stopGroup(child.pid, 30_000);
    stopped = true;
    if (forced) throw new Error('the golden RabbitMQ node did not stop within 30 s of SIGTERM');
    return (await child.exited).exitCode;
  } finally {
    if (!stopped) {
      killGroup(child.pid);
      await child.exited;
    }
  }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The last lines of the bake's log, for an error (its scratch folder is removed afterwards). */
async function logTail(file: string): Promise<string> {
  const tail = await tailFile(file, 12);
  return tail.length > 0 ? `; its log ends:\n${tail.join('\n')}` : '';
}
