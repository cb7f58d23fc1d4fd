import { link, mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
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

/** The PID a claim file names (NaN for an unreadable one: no live owner), or undefined when it is gone. */
async function ownerOf(file: string): Promise<number | undefined> {
  try {
    return Number(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Claim writes that find the folder just removed by another provider's release, retried this often. */
const MAX_WRITE_ATTEMPTS = 20;

/** The file a claim is written in before it is linked or renamed into place: unique per call. */
let asideCount = 0;
const aside = (file: string) => `${file}.${process.pid}-${++asideCount}.new`;

/**
 * Machine-wide claims on replica addresses, so two providers (two deployments, two test processes)
 * never hand out the same 127.x.y.z. A claim is a file holding the owner's PID, which appears with its
 * content in one step (written aside, then hard-linked into place: the link fails if the claim exists).
 * A claim whose owner is dead is stale and is taken over, one taker at a time (takeOver). Created in
 * place and written after, a claim was read empty by another process, taken for stale, and the address
 * handed out twice (4 processes racing for 400 addresses won 596 claims; in the full suite two replicas
 * started on one address). Removing a stale claim and making a new one let a slower taker remove a
 * faster one's new claim (10 of 400 taken twice): hence the lock.
 */
export class AddressClaims {
  constructor(readonly dir = join(tmpdir(), 'brokel-claims')) {}

  private file(key: string): string {
    return join(this.dir, key.replace(/[^0-9A-Za-z.]/g, '_'));
  }

  async claim(key: string, ownerPid = process.pid): Promise<boolean> {
    const file = this.file(key);
    if (await this.create(file, ownerPid)) return true;
    const owner = await ownerOf(file);
    if (owner === undefined) return this.create(file, ownerPid); // released meanwhile
    if (owner > 0 && pidAlive(owner)) return false;
    return this.takeOver(file, ownerPid);
  }

  /** Re-writes a claim for a new owner (a restarted manager adopting its replicas), in one step. */
  async adopt(key: string, ownerPid = process.pid): Promise<void> {
    const file = this.file(key);
    const next = aside(file);
    await this.write(next, String(ownerPid));
    await rename(next, file);
  }

  /** Makes the claim file with `ownerPid` in it unless it exists: true when this call made it. */
  private async create(file: string, ownerPid: number): Promise<boolean> {
    const next = aside(file);
    await this.write(next, String(ownerPid));
    try {
      await link(next, file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await rm(next, { force: true });
    }
  }

  /**
   * Takes over `file`, whose owner is dead, under a lock of its own (`<file>.taking-over`, made like a
   * claim): the holder reads the claim again and replaces it in one rename while it is still stale. A
   * process that finds the lock taken gives up on this address (another is taking it); a lock whose
   * holder died is removed, and the address tried again later.
   */
  private async takeOver(file: string, ownerPid: number): Promise<boolean> {
    const lock = `${file}.taking-over`;
    if (!(await this.create(lock, ownerPid))) {
      const holder = await ownerOf(lock);
      if (holder !== undefined && !(holder > 0 && pidAlive(holder))) await rm(lock, { force: true });
      return false;
    }
    try {
      const owner = await ownerOf(file);
      if (owner === undefined) return await this.create(file, ownerPid); // released meanwhile
      if (owner > 0 && pidAlive(owner)) return false;
      const next = aside(file);
      await this.write(next, String(ownerPid));
      await rename(next, file);
      return true;
    } finally {
      await rm(lock, { force: true });
    }
  }

  /**
   * Writes a file in the claims folder, making the folder first. Another provider's last release
   * removes the folder (release), possibly between this mkdir and this write: ENOENT then means "make
   * it again", a bounded number of times (each retry follows a removal that another process completed).
   */
  private async write(file: string, content: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        // mkdir -p itself fails with ENOENT when the folder goes between its EEXIST and its check.
        await mkdir(this.dir, { recursive: true });
        await writeFile(file, content);
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
