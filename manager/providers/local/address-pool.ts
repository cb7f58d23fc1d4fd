import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The i-th replica address of a 127.A.B block: 127.A.x.y with y in 1..254 (pure). */
export function aliasAddress(block: string, index: number): string {
  const x = Math.floor(index / 254);
  const y = (index % 254) + 1;
  if (x > 255) throw new RangeError(`address block ${block} is exhausted`);
  return `${block}.${x}.${y}`;
}

/** Tries to bind host:port; resolves the bound port, or rejects with the bind error (EADDRINUSE, ...). */
export function tryBind(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * Ports a replica listens on are picked below the kernel's ephemeral range (ip_local_port_range): a
 * port from that range, free when picked, can be taken as the local port of any outgoing connection
 * before the replica binds it, and RabbitMQ binds its Erlang distribution port seconds after it starts
 * (a CI run: `dist_port_already_used`, the replica exited). Random candidates in [10000, low), checked
 * by binding; the kernel's choice (port 0) only when none of them is free.
 */
const LOWEST_PICKED_PORT = 10_000;
const PICK_ATTEMPTS = 64;

/** The kernel's ephemeral range [low, high], or the Linux default when it cannot be read. */
export function ephemeralRange(text: string | undefined): [number, number] {
  const [low, high] = (text ?? '').trim().split(/\s+/).map(Number);
  return low !== undefined &&
    high !== undefined &&
    Number.isInteger(low) &&
    Number.isInteger(high) &&
    low <= high
    ? [low, high]
    : [32_768, 60_999];
}

/** A candidate port below the ephemeral range (pure; `random` in [0, 1)), or undefined if there is no room. */
export function portBelow(low: number, random: number): number | undefined {
  if (low - LOWEST_PICKED_PORT < 1000) return undefined;
  return LOWEST_PICKED_PORT + Math.floor(random * (low - LOWEST_PICKED_PORT));
}

/** A port free right now on host, outside the ephemeral range when it can be. */
export async function freePort(host: string): Promise<number> {
  const [low] = ephemeralRange(
    await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => undefined),
  );
  for (let i = 0; i < PICK_ATTEMPTS; i++) {
    const port = portBelow(low, Math.random());
    if (port === undefined) break;
    const bound = await tryBind(host, port).catch(() => undefined);
    if (bound !== undefined) return bound;
  }
  return tryBind(host, 0);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claim writes that find the folder just removed by another provider's release, retried this often. */
const MAX_WRITE_ATTEMPTS = 20;

/**
 * Machine-wide claims on replica addresses, so two providers (two deployments, two test processes)
 * never hand out the same 127.x.y.z. A claim is a file created exclusively, holding the owner's PID;
 * a claim whose owner is dead is stale and is taken over.
 */
export class AddressClaims {
  constructor(readonly dir = join(tmpdir(), 'brokel-claims')) {}

  private file(key: string): string {
    return join(this.dir, key.replace(/[^0-9A-Za-z.]/g, '_'));
  }

  async claim(key: string, ownerPid = process.pid): Promise<boolean> {
    const file = this.file(key);
    try {
      await this.write(file, String(ownerPid), 'wx');
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number(await readFile(file, 'utf8').catch(() => '0'));
    if (owner > 0 && pidAlive(owner)) return false;
    await rm(file, { force: true });
    try {
      await this.write(file, String(ownerPid), 'wx');
      return true;
    } catch {
      return false;
    }
  }

  /** Re-writes a claim for a new owner (a restarted manager adopting its replicas). */
  async adopt(key: string, ownerPid = process.pid): Promise<void> {
    await this.write(this.file(key), String(ownerPid), 'w');
  }

  /**
   * Writes a claim file, making the folder first. Another provider's last release removes the folder
   * (release), possibly between this mkdir and this write: ENOENT then means "make it again", a
   * bounded number of times (each retry follows a removal that another process completed).
   */
  private async write(file: string, content: string, flag: 'wx' | 'w'): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        // mkdir -p itself fails with ENOENT when the folder goes between its EEXIST and its check.
        await mkdir(this.dir, { recursive: true });
        await writeFile(file, content, { flag });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= MAX_WRITE_ATTEMPTS) throw err;
      }
    }
  }

  async release(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
    if ((await readdir(this.dir).catch(() => ['x'])).length === 0)
      await rmdir(this.dir).catch(() => undefined);
  }
}
