import { retainedOwner } from '../routing/strategies.ts';

/**
 * The retained write fence (pure). While the manager moves retained messages to or from a broker, that
 * broker's pool entry carries `retainedFence: true`. A retained publish (or clear) on a topic whose owner
 * changes with that broker is held by the orchestrator until the fence is lifted, so a move's copy can
 * never overtake it (docs/retained-moves.md).
 *
 * The topics that change owner are exactly those the fenced broker owns among the active brokers plus the
 * fenced ones: rendezvous hashing moves only the keys of the broker that comes or goes.
 */
export class RetainedFence {
  /** Active brokers plus fenced ones, in pool order: the owner set while a move runs. */
  private readonly withFenced: readonly string[];

  constructor(
    active: readonly string[],
    private readonly fenced: readonly string[],
  ) {
    this.withFenced = [...active, ...fenced.filter((id) => !active.includes(id))];
  }

  /** No broker is fenced: the common case, one comparison. */
  get open(): boolean {
    return this.fenced.length === 0;
  }

  /** The fenced broker that holds back a retained publish on `topic`, or undefined when it may go. */
  holder(topic: string): string | undefined {
    if (this.fenced.length === 0) return undefined;
    const owner = retainedOwner(topic, this.withFenced);
    return owner !== undefined && this.fenced.includes(owner) ? owner : undefined;
  }
}

/** Client retained publishes on `$` topics are refused: `#` does not match them, so no move could find them. */
export function unmovableRetainedTopic(topic: string): boolean {
  return topic.charCodeAt(0) === 0x24; // '$' [MQTT-4.7.2-1]: wildcards starting a filter never match '$' topics
}
