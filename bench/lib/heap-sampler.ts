import { createServer } from 'node:net';
import { WebSocket } from 'undici';

/**
 * V8's sampling heap profiler in another Node process, over its inspector (`--inspect=HOST:PORT`):
 * every allocated object counts, those the young and old generation collectors freed included, so a
 * window's sampled bytes are what the process allocated in it (to within the sampling interval). What
 * decides the garbage collector's share at full rate is the bytes and objects allocated per message
 * (docs/data-plane.md, "Session 29" and "Session 30"); bench/profile-fixed.ts `--heap` prints them.
 */

interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampleNode[];
}

export interface AllocatorRow {
  /** Function name and file:line (1-based). */
  name: string;
  bytes: number;
  share: number;
}

/** A free loopback port for `--inspect` (taken and released: the child binds it a moment later). */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port for the inspector');
  return address.port;
}

export class HeapSampler {
  private nextId = 0;
  private readonly waits = new Map<number, (result: unknown) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
      const wait = message.id === undefined ? undefined : this.waits.get(message.id);
      if (message.id !== undefined && wait) {
        this.waits.delete(message.id);
        wait(message.result);
      }
    });
  }

  /** Connects to the inspector listening on 127.0.0.1:port (its first target). */
  static async attach(port: number): Promise<HeapSampler> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{
      webSocketDebuggerUrl: string;
    }>;
    const url = targets[0]?.webSocketDebuggerUrl;
    if (url === undefined) throw new Error(`no inspector target on 127.0.0.1:${port}`);
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true });
      ws.addEventListener('error', () => reject(new Error(`inspector ${url}: connection failed`)), {
        once: true,
      });
    });
    const sampler = new HeapSampler(ws);
    await sampler.call('HeapProfiler.enable');
    return sampler;
  }

  private call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.nextId;
    const answer = new Promise<unknown>((resolve) => this.waits.set(id, resolve));
    this.ws.send(JSON.stringify({ id, method, params }));
    return answer;
  }

  /** Starts sampling: the request leaves at once; resolves when the process has begun. */
  async start(intervalBytes = 4096): Promise<void> {
    await this.call('HeapProfiler.startSampling', {
      samplingInterval: intervalBytes,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }

  /** Stops sampling (the request leaves at once); resolves the window's profile. */
  stop(): Promise<SampleNode> {
    return this.call('HeapProfiler.stopSampling').then(
      (result) => (result as { profile: { head: SampleNode } }).profile.head,
    );
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * Bytes sampled in all, and the top `n` functions by bytes allocated in their own frame. V8 names the
 * outermost optimized function: what a callee inlined into it allocates counts there.
 */
export function topAllocators(head: SampleNode, n: number): { total: number; rows: AllocatorRow[] } {
  const bytes = new Map<string, number>();
  let total = 0;
  const walk = (node: SampleNode): void => {
    if (node.selfSize > 0) {
      const { functionName, url, lineNumber } = node.callFrame;
      const file = url.split('/').slice(-2).join('/');
      const name = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
      bytes.set(name, (bytes.get(name) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const child of node.children) walk(child);
  };
  walk(head);
  const rows = [...bytes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, b]) => ({ name, bytes: b, share: total > 0 ? b / total : 0 }));
  return { total, rows };
}
