import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parseRabbitmqParams, renderRabbitmqConf } from '../../../templates/rabbitmq/config.ts';
import { GOLDEN_PLUGINS, goldenKey, goldenRoot, NODENAME } from '../../../templates/rabbitmq/golden.ts';
import { RABBITMQ_SERVER_SCRIPT, rabbitmqEnv, WRAPPER_SCRIPT } from '../../../templates/rabbitmq/process.ts';
import { freePort } from './address-pool.ts';

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
    await writeFile(join(dataDir, '.erlang.cookie'), randomBytes(20).toString('hex').toUpperCase(), {
      mode: 0o400,
    });
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
        `the golden RabbitMQ node exited with ${exitCode}${logTail(join(scratch, 'boot.log'))}`,
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

/** Runs the template's process in `dataDir` until its MQTT port answers, then SIGTERMs its group. */
async function bootAndStop(
  dataDir: string,
  env: Record<string, string>,
  port: number,
  timeoutMs: number,
): Promise<number | null> {
  const logPath = join(dataDir, '..', 'boot.log');
  const logFd = openSync(logPath, 'w');
  const child = spawn('/bin/sh', ['-c', WRAPPER_SCRIPT, 'brokel-rabbitmq', RABBITMQ_SERVER_SCRIPT], {
    cwd: dataDir,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const group = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  try {
    const deadline = Date.now() + timeoutMs;
    while (!(await answers(port))) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`the golden RabbitMQ node exited before its MQTT listener opened${logTail(logPath)}`);
      if (Date.now() > deadline)
        throw new Error(
          `the golden RabbitMQ node did not open its MQTT listener within ${timeoutMs} ms${logTail(logPath)}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
    group('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited,
      new Promise<'late'>((r) => {
        timer = setTimeout(() => r('late'), 30_000);
      }),
    ]).finally(() => clearTimeout(timer));
    if (code === 'late') throw new Error('the golden RabbitMQ node did not stop within 30 s of SIGTERM');
    return code;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      group('SIGKILL');
      await exited;
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
function logTail(file: string, lines = 12): string {
  try {
    const tail = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines);
    return `; its log ends:\n${tail.join('\n')}`;
  } catch {
    return '';
  }
}
