// One publisher process of `brokel taxi publish --processes` (or of a scenario): it gets its job over
// IPC, loads the trace itself, replays its shares and sends its PublisherResults back.
import type { Follow, QoS } from './mqtt-clients.ts';
import type { Pacing } from './pacing.ts';
import { runPublishers } from './publisher.ts';
import { splitShares } from './shares.ts';
import { loadTrace } from './trace-reader.ts';

export interface WorkerJob {
  file: string;
  records: number;
  publishers: number;
  /** The shares (publisher indices) this process replays: consecutive, from `first`. */
  first: number;
  count: number;
  urls: string[];
  qos: QoS;
  pacing: Pacing;
  inflight: number;
  clientIdPrefix: string;
  /** Re-resolve the service name here after a plain close. */
  follow?: Follow;
  protocolVersion?: 4 | 5;
  /** Ask the parent for the current URLs every this many ms (see PublishOptions.rebalance). */
  rebalanceEveryMs?: number;
}

/** Parent → worker messages after the job. */
export type ParentMessage = { kind: 'start'; startAt: number } | { kind: 'urls'; urls: string[] };

export type WorkerMessage =
  | { kind: 'ready' }
  | { kind: 'progress'; acked: number }
  | { kind: 'urls?' }
  | { kind: 'done'; results: unknown[] };

function send(message: WorkerMessage): void {
  process.send?.(message);
}

/** Waiters for the parent's messages after the job, first come first served, one listener in all. */
const waiters: { [K in ParentMessage['kind']]: Array<(m: Extract<ParentMessage, { kind: K }>) => void> } = {
  start: [],
  urls: [],
};

function next<K extends ParentMessage['kind']>(kind: K): Promise<Extract<ParentMessage, { kind: K }>> {
  return new Promise((resolve) => {
    (waiters[kind] as Array<(m: Extract<ParentMessage, { kind: K }>) => void>).push(resolve);
  });
}

function onParentMessage(m: ParentMessage): void {
  const waiter = (waiters[m.kind] as Array<(m: ParentMessage) => void>).shift();
  waiter?.(m);
}

let finished = false;
// The parent went away (killed, or interrupted): stop publishing.
process.on('disconnect', () => {
  if (!finished) process.exit(1);
});

process.once('message', async (job: WorkerJob) => {
  process.on('message', onParentMessage);
  try {
    const { records } = await loadTrace(job.file, job.records);
    const first = records[0]?.epochMicros ?? 0;
    const shares = splitShares(records, job.publishers).slice(job.first, job.first + job.count);
    const result = await runPublishers(shares, {
      urls: job.urls,
      qos: job.qos,
      pacing: job.pacing,
      inflight: job.inflight,
      clientIdPrefix: job.clientIdPrefix,
      follow: job.follow,
      protocolVersion: job.protocolVersion ?? 4,
      // Connected: tell the parent, and start when every process is.
      startAt: async () => {
        const started = next('start');
        send({ kind: 'ready' });
        return (await started).startAt;
      },
      firstEpochMicros: first,
      indexOffset: job.first,
      totalPublishers: job.publishers,
      onProgress: (acked) => send({ kind: 'progress', acked }),
      ...(job.rebalanceEveryMs
        ? {
            rebalance: {
              everyMs: job.rebalanceEveryMs,
              urls: async () => {
                const answer = next('urls');
                send({ kind: 'urls?' });
                return (await answer).urls;
              },
            },
          }
        : {}),
    });
    send({ kind: 'done', results: result.publishers });
    finished = true;
    process.disconnect?.();
  } catch (err) {
    console.error(`publisher process ${job.first}: ${(err as Error).message}`);
    process.exitCode = 1;
    finished = true;
    process.disconnect?.();
  }
});
