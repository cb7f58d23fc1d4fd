import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tsxExecArgv } from '../../common/tsx-child.ts';
import { type PublisherResult, type PublishResult, summarisePublishers } from './publisher.ts';
import type { ParentMessage, WorkerJob, WorkerMessage } from './publisher-worker.ts';

const WORKER = fileURLToPath(new URL('./publisher-worker.ts', import.meta.url));

export interface ProcessesOptions {
  /** How many child processes share the publishers (consecutive blocks). Default: one per publisher. */
  processes?: number;
  onProgress?: (acked: number) => void;
  /** Answers a child's request for the current URLs (rebalancing publishers). */
  urls?: () => Promise<readonly string[]>;
  /** Runs once every child is connected, before the replay starts (e.g. more subscribers connect). */
  beforeStart?: () => Promise<void>;
  /** Aborting kills the children (and the call rejects). */
  signal?: AbortSignal | undefined;
}

/**
 * Publishers in child processes (through tsx, like the CLI), each loading the trace and replaying its
 * block of shares; all start on one shared timeline once every child is connected.
 */
export async function runPublisherProcesses(
  job: Omit<WorkerJob, 'first' | 'count'>,
  options: ProcessesOptions = {},
): Promise<PublishResult> {
  const n = Math.max(1, Math.min(job.publishers, options.processes ?? job.publishers));
  const blocks = Array.from({ length: n }, (_, k) => {
    const first = Math.floor((k * job.publishers) / n);
    return { first, count: Math.floor(((k + 1) * job.publishers) / n) - first };
  });
  const acked = new Array<number>(n).fill(0);
  const children = blocks.map(() =>
    fork(WORKER, [], { execArgv: tsxExecArgv(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  const tell = (child: (typeof children)[number], m: ParentMessage) => {
    if (child.connected) child.send(m);
  };
  const kill = () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  options.signal?.addEventListener('abort', kill, { once: true });
  try {
    let ready = 0;
    const results = await Promise.all(
      children.map(
        (child, k) =>
          new Promise<PublisherResult[]>((resolve, reject) => {
            let done: PublisherResult[] | undefined;
            child.on('message', (m: WorkerMessage) => {
              if (m.kind === 'ready') {
                ready += 1;
                if (ready === children.length)
                  void (options.beforeStart?.() ?? Promise.resolve()).then(
                    () => {
                      for (const c of children) tell(c, { kind: 'start', startAt: Date.now() + 50 });
                    },
                    (err: unknown) => {
                      kill();
                      reject(err);
                    },
                  );
              } else if (m.kind === 'progress') {
                acked[k] = m.acked;
                options.onProgress?.(acked.reduce((a, b) => a + b, 0));
              } else if (m.kind === 'urls?') {
                const urls = options.urls ? options.urls() : Promise.resolve(job.urls);
                void urls.then((u) => tell(child, { kind: 'urls', urls: [...u] }));
              } else if (m.kind === 'done') done = m.results as PublisherResult[];
            });
            child.once('error', reject);
            child.once('exit', (code) =>
              done ? resolve(done) : reject(new Error(`publisher process ${k} exited with ${code}`)),
            );
            child.send({ ...job, ...blocks[k] } as WorkerJob);
          }),
      ),
    );
    return summarisePublishers(results.flat());
  } finally {
    // A long-lived signal (scenario matrix: one for all its runs) must not collect a listener per run.
    options.signal?.removeEventListener('abort', kill);
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}
