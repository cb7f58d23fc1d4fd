import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { probeMqtt } from '../../common/mqtt-probe.ts';
import type { PoolBroker } from '../../orchestrator/pool/broker-pool.ts';
import { waitFor } from './resources.ts';

/** A free TCP port on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * One plain Mosquitto on its own loopback port, started directly (no provider: tests that kill and
 * restart brokers need the PID and a boot in milliseconds). Stopped by PID at teardown.
 */
export class TestMosquitto {
  child: ChildProcess | undefined;
  readonly url: string;
  private readonly dir: string;

  private constructor(
    readonly port: number,
    extraConf: readonly string[] = [],
  ) {
    this.url = `mqtt://127.0.0.1:${port}`;
    this.dir = mkdtempSync(join(tmpdir(), 'brokel-mosq-'));
    writeFileSync(
      join(this.dir, 'mosquitto.conf'),
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence false',
        'set_tcp_nodelay true',
        // As the template: no count limit, so a slow subscriber is never silently dropped (FIELD-NOTES).
        'max_queued_messages 0',
        'log_dest none',
        ...extraConf,
        '',
      ].join('\n'),
    );
  }

  /** extraConf: more mosquitto.conf lines (`max_inflight_messages 100`, as the template). */
  static async start(t: TestContext, extraConf: readonly string[] = []): Promise<TestMosquitto> {
    const broker = await TestMosquitto.create(extraConf);
    t.after(() => broker.stop());
    return broker;
  }

  /** Started, not registered for teardown: the caller stops it (a suite's `after`). */
  static async create(extraConf: readonly string[] = []): Promise<TestMosquitto> {
    const broker = new TestMosquitto(await freePort(), extraConf);
    try {
      await broker.boot();
    } catch (err) {
      await broker.stop();
      throw err;
    }
    return broker;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts (or restarts, on the same port, with no state) and waits until it answers CONNECT. */
  async boot(): Promise<void> {
    const child = spawn('mosquitto', ['-c', join(this.dir, 'mosquitto.conf')], { stdio: 'ignore' });
    this.child = child;
    await waitFor(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`mosquitto on port ${this.port} exited: ${child.exitCode}`);
        try {
          await probeMqtt({ host: '127.0.0.1', port: this.port, protocolVersion: 4, timeoutMs: 500 });
          return true;
        } catch {
          return false;
        }
      },
      5000,
      `mosquitto on port ${this.port}`,
    );
  }

  /** Sends a signal to this broker's process (by its PID) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A test broker as an orchestrator's pool lists it (active, readable by the registry). */
export function poolBrokerOf(b: TestMosquitto): PoolBroker {
  return {
    id: `127.0.0.1:${b.port}`,
    url: b.url,
    host: '127.0.0.1',
    port: b.port,
    tls: undefined,
    state: 'active',
    retainedFence: false,
    retainedWildcardRead: true,
    published: 0,
    delivered: 0,
    expired: 0,
  };
}
