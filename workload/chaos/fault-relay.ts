import { createServer, connect as netConnect, type Socket } from 'node:net';

/**
 * A fault-injecting TCP relay (the toxiproxy idea, pure node:net): clients connect to the
 * relay, which opens one connection to the target per client and forwards bytes both ways, with
 * faults switchable at any time:
 * - delay: each chunk is forwarded `delayMs` after it arrived (order kept);
 * - bandwidth: at most `bytesPerSecond` per direction per connection;
 * - reset: every open connection is destroyed with a TCP RST, both sides;
 * - blackhole: nothing is forwarded, sockets stay open (a partition without a reset). What arrives
 *   meanwhile is held, as the kernel would keep retransmitting it, and flows again when the partition
 *   heals; reading stops once 1 MiB is held, so the senders feel TCP backpressure;
 * - silent new connections: connections accepted from now on are never relayed (no connection to the
 *   target; what the client sends is read and dropped), as with a target whose accept queue is full;
 *   connections already relayed are not affected.
 */
export interface FaultRelay {
  readonly host: string;
  readonly port: number;
  /** Connections currently relayed. */
  readonly connections: number;
  setDelay(ms: number): void;
  /** undefined: unlimited. */
  setBandwidth(bytesPerSecond: number | undefined): void;
  setBlackhole(on: boolean): void;
  setSilentNew(on: boolean): void;
  /** Destroys every relayed connection with a RST (new ones are still accepted). */
  reset(): void;
  close(): Promise<void>;
}

const MAX_HELD_BYTES = 1 << 20;
/** Bandwidth is spent in slices of 20 ms worth of bytes. */
const SLICE_MS = 20;

interface Faults {
  delayMs: number;
  bytesPerSecond: number | undefined;
  blackhole: boolean;
}

/** One direction of one connection: a queue of chunks with their due times. */
class Lane {
  private readonly queue: Array<{ chunk: Buffer; dueAt: number }> = [];
  private held = 0;
  private timer: NodeJS.Timeout | undefined;
  private freeAt = 0;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly faults: Faults,
  ) {
    from.on('data', (chunk: Buffer) => {
      this.queue.push({ chunk, dueAt: Date.now() + this.faults.delayMs });
      this.held += chunk.length;
      if (this.held > MAX_HELD_BYTES) from.pause();
      this.pump();
    });
  }

  /** Forwards what is due, within the bandwidth; re-arms a timer for the rest. */
  pump(): void {
    if (this.timer) return;
    const now = Date.now();
    while (this.queue.length > 0 && !this.faults.blackhole && !this.to.destroyed) {
      const head = this.queue[0];
      if (!head) break;
      if (head.dueAt > now) return this.wake(head.dueAt - now);
      const rate = this.faults.bytesPerSecond;
      if (rate !== undefined && this.freeAt > now) return this.wake(this.freeAt - now);
      let chunk = head.chunk;
      if (rate !== undefined) {
        const slice = Math.max(1, Math.floor((rate * SLICE_MS) / 1000));
        if (chunk.length > slice) {
          head.chunk = chunk.subarray(slice);
          chunk = chunk.subarray(0, slice);
        } else this.queue.shift();
        this.freeAt = Math.max(now, this.freeAt) + (chunk.length * 1000) / rate;
      } else this.queue.shift();
      this.held -= chunk.length;
      this.to.write(chunk);
    }
    if (this.held <= MAX_HELD_BYTES && this.from.isPaused()) this.from.resume();
  }

  private wake(ms: number): void {
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(1, ms),
    );
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

/** A relay on `listenHost` (127.0.0.1 by default), ephemeral port, to target; the caller closes it. */
export async function openFaultRelay(
  target: { host: string; port: number },
  listenHost = '127.0.0.1',
): Promise<FaultRelay> {
  const faults: Faults = { delayMs: 0, bytesPerSecond: undefined, blackhole: false };
  const pairs = new Set<{ client: Socket; upstream: Socket; lanes: Lane[] }>();
  const silent = new Set<Socket>();
  let silentNew = false;
  const server = createServer({ noDelay: true }, (client) => {
    if (silentNew) {
      silent.add(client);
      client.resume(); // read and dropped
      const forget = () => silent.delete(client);
      client.on('error', forget);
      client.on('close', forget);
      return;
    }
    const upstream = netConnect({ host: target.host, port: target.port, noDelay: true });
    const pair = {
      client,
      upstream,
      lanes: [new Lane(client, upstream, faults), new Lane(upstream, client, faults)],
    };
    pairs.add(pair);
    const end = () => {
      if (!pairs.delete(pair)) return;
      for (const lane of pair.lanes) lane.stop();
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
      socket.on('end', end);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listenHost, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay: no TCP address');
  const pumpAll = () => {
    for (const pair of pairs) for (const lane of pair.lanes) lane.pump();
  };
  const relay: FaultRelay = {
    host: listenHost,
    port: address.port,
    get connections() {
      return pairs.size;
    },
    setDelay(ms) {
      faults.delayMs = ms;
    },
    setBandwidth(bytesPerSecond) {
      faults.bytesPerSecond = bytesPerSecond;
      pumpAll();
    },
    setBlackhole(on) {
      faults.blackhole = on;
      pumpAll();
    },
    setSilentNew(on) {
      silentNew = on;
    },
    reset() {
      for (const client of [...silent]) client.resetAndDestroy();
      for (const pair of [...pairs]) {
        pair.client.resetAndDestroy();
        pair.upstream.resetAndDestroy();
      }
    },
    close: async () => {
      relay.reset();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return relay;
}
