import type { IConnectPacket, ISubscription } from 'mqtt-packet';
import { type LinkGrace, linkGraceSeconds } from './connect-steps.ts';
import { emptyMap, writableMap } from './lazy-collections.ts';

/**
 * Which of a session's upstream sessions outlive a lost link (limits.upstreamLinkGraceSeconds): a
 * clean session's, on MQTT 5 brokers. Per broker it keeps what the broker has of the session's
 * subscriptions while its link is down (those of the moment it was lost), so a resumed session gets
 * only what changed since, and a retained message is not sent again for a subscription it kept.
 */
export class LinkGraces {
  /** Broker id → its subscriptions as of the lost link; undefined while the link is up and synced. */
  /** Allocated on the first graceful link (lazy-collections.ts): a grace is off by default. */
  private kept = emptyMap<string, ReadonlyMap<string, ISubscription> | undefined>();

  constructor(private readonly configuredSeconds: number) {}

  /** The grace of a link about to open: resumed (Clean Start 0) where an upstream session may be kept. */
  forLink(brokerId: string, client: IConnectPacket, brokerVersion: 4 | 5): LinkGrace {
    const seconds = linkGraceSeconds(client, brokerVersion, this.configuredSeconds);
    return { seconds, resume: seconds > 0 && this.kept.has(brokerId) };
  }

  /** A link was accepted with this grace (0: its session ends with it). */
  opened(brokerId: string, seconds: number): void {
    if (seconds === 0) this.kept.delete(brokerId);
    else if (!this.kept.has(brokerId)) {
      this.kept = writableMap(this.kept);
      this.kept.set(brokerId, undefined);
    }
  }

  /** The link was lost: the broker keeps the subscriptions it had (an older snapshot stays: not yet restored). */
  lost(brokerId: string, active: ReadonlyMap<string, ISubscription> | undefined): void {
    if (this.kept.has(brokerId) && this.kept.get(brokerId) === undefined)
      this.kept.set(brokerId, new Map(active ?? []));
  }

  /** What a resumed session has on that broker (undefined: unknown, replay everything). */
  before(brokerId: string): ReadonlyMap<string, ISubscription> | undefined {
    return this.kept.get(brokerId);
  }

  /** The broker has every subscription again. */
  synced(brokerId: string): void {
    if (this.kept.has(brokerId)) this.kept.set(brokerId, undefined);
  }

  /** The upstream session ended for good (a goodbye with expiry 0). */
  forget(brokerId: string): void {
    this.kept.delete(brokerId);
  }
}
