import { parseBrokerUrl } from '../common/admin/contract.ts';
import { TimeoutError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { listsRetainedToWildcard, lookupTemplate } from '../templates/registry.ts';
import type { BrokerTlsFiles } from './broker-tls.ts';
import { cancellable } from './cancel.ts';
import type { Replica } from './providers/cloud-provider.ts';
import { moveRetained } from './retained-move.ts';

export interface BoundedMoveOptions {
  /** manager.actionTimeoutSeconds: bound on a whole move, and on waiting for a given-up one. */
  actionTimeoutMs: number;
  users: ReadonlyArray<{ username: string; password: string }>;
  brokerTls?: BrokerTlsFiles;
  /** Where a move whose QoS 0 copies had to be made again is reported. */
  log?: Logger;
}

/**
 * Splits move sources by whether their broker lists its retained messages to a `#` subscription
 * (ReplicaTemplate.retainedWildcardRead); a template this build does not know is read.
 */
export function readableSources(sources: readonly Replica[]): { readable: Replica[]; unreadable: Replica[] } {
  const readable: Replica[] = [];
  const unreadable: Replica[] = [];
  for (const b of sources) (listsRetainedToWildcard(b.template) ? readable : unreadable).push(b);
  return { readable, unreadable };
}

/** Rejects with a TimeoutError after `ms`; `clear` stops the timer. */
function deadline(what: string, ms: number, onTimeout?: () => void) {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new TimeoutError(what, ms));
    }, ms);
  });
  return { expired, clear: () => clearTimeout(timer) };
}

/**
 * The manager's retained moves (manager/retained-move.ts), each bounded by the action timeout. A move
 * given up on (deadline, or the manager stops) is told so: it starts no copy or clear after that, and
 * it is tracked until the copies and clears it already sent are acknowledged (issue 17: a failed join
 * copies back only once no clear of the given-up move can still reach a broker after the copy).
 */
export class BoundedMover {
  /** Moves not settled yet, given-up ones included. */
  private readonly moves = new Set<Promise<void>>();
  /**
   * Topics copied to a broker that cannot list its retained messages, by its id: the undo of its failed
   * join reads them back by name (a `#` read of it finds nothing). Kept until forget().
   */
  private readonly copiedTo = new Map<string, Set<string>>();

  constructor(private readonly o: BoundedMoveOptions) {}

  /** The broker's join ended (active, undone) or it left the pool: its copied topics are not needed. */
  forget(broker: Replica): void {
    this.copiedTo.delete(parseBrokerUrl(broker.url).id);
  }

  /**
   * Moves retained messages from `sources` to their owners among `brokers`; resolves with the count.
   * A source whose template cannot show its retained messages to a wildcard read (RabbitMQ 3.10) is read
   * only for the topics this mover copied to it (by name); otherwise not at all: a `#` read would find
   * nothing and, on a busy broker, wait behind its live deliveries (issue 15).
   */
  async move(
    sources: readonly Replica[],
    brokers: readonly Replica[],
    clearSource: boolean,
    signal?: AbortSignal,
  ): Promise<number> {
    const { unreadable } = readableSources(sources);
    const exactTopics = new Map<string, string[]>();
    for (const b of unreadable) {
      const known = this.copiedTo.get(parseBrokerUrl(b.url).id);
      if (known && known.size > 0) exactTopics.set(b.url, [...known]);
    }
    const skipped = unreadable.filter((b) => !exactTopics.has(b.url));
    if (skipped.length > 0)
      this.o.log?.info(
        { brokers: skipped.map((b) => b.id) },
        'retained move: these brokers cannot list their retained messages (no retained delivery to a wildcard subscription); not read',
      );
    const read = sources.filter((b) => !skipped.includes(b));
    if (read.length === 0) return 0;
    const owners = brokers.map((b) => parseBrokerUrl(b.url).id);
    // RabbitMQ's MQTT plugin (3.10) has no QoS 2 (FIELD-NOTES).
    const maxQos = new Map(
      brokers.map((b, i) => [owners[i] ?? '', lookupTemplate(b.template)?.maxQos ?? 2] as const),
    );
    const unlisted = new Set(readableSources(brokers).unreadable.map((b) => parseBrokerUrl(b.url).id));
    const user = this.o.users[0];
    const auth = user ? { username: user.username, password: user.password } : {};
    const timeoutMs = this.o.actionTimeoutMs;
    const stop = new AbortController();
    const bound = deadline('retained move', timeoutMs, () => stop.abort());
    const move = moveRetained({
      sources: read.map((b) => b.url),
      owners,
      auth,
      timeoutMs,
      maxQos,
      clearSource,
      exactTopics,
      onCopy: (owner, topic) => {
        if (!unlisted.has(owner)) return;
        const topics = this.copiedTo.get(owner) ?? new Set<string>();
        this.copiedTo.set(owner, topics.add(topic));
      },
      signal: stop.signal,
      ...(this.o.brokerTls ? { ca: this.o.brokerTls.ca } : {}),
    });
    const settled = move.then(
      () => undefined,
      () => undefined,
    );
    this.moves.add(settled);
    void settled.then(() => this.moves.delete(settled));
    try {
      const done = await cancellable(Promise.race([move, bound.expired]), signal, 'retained move');
      if (done.unconfirmed > 0)
        this.o.log?.warn(
          { moved: done.moved, unconfirmed: done.unconfirmed, passes: done.passes },
          'retained move: QoS 0 copies not found on their owner were kept on their source and copied again',
        );
      return done.moved;
    } finally {
      bound.clear();
      stop.abort();
    }
  }

  /**
   * Resolves once every move, a given-up one too, has its copies and clears acknowledged; a clear
   * still in a stalled broker's socket keeps it waiting. Rejects after the action timeout.
   */
  async settled(signal?: AbortSignal): Promise<void> {
    const bound = deadline('the given-up retained move to settle', this.o.actionTimeoutMs);
    try {
      await cancellable(Promise.race([Promise.all([...this.moves]), bound.expired]), signal, 'retained move');
    } finally {
      bound.clear();
    }
  }
}
