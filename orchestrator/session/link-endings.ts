import type { UpstreamLink } from './context.ts';
import { closedForDenial } from './denied-close.ts';
import { emptyMap, writableMap } from './lazy-collections.ts';

/** MQTT 5 reason code 0x8E: Session taken over (a newer connection with the same client id). */
export const SESSION_TAKEN_OVER = 0x8e;
/** Two clean closes of a link by its broker this close together: the session lives on elsewhere. */
const TAKEOVER_WINDOW_MS = 10_000;

/**
 * How brokers ended this session's links, as far as it matters for what the session does next: a
 * takeover (the client is connected elsewhere), a refused publish (the client is ended too), or a
 * link lost (reconnected). Nothing here is on the publish path but a refusal's timestamp.
 */
export class LinkEndings {
  // Each allocated on its first entry (lazy-collections.ts): most sessions never see any of these.
  /** Links whose broker said DISCONNECT 0x8E (session taken over) before closing them. */
  private takenOverAt: WeakSet<UpstreamLink> | undefined;
  /** Links whose broker said why with another reason (0x8B shutting down, …): not a takeover. */
  private closedForAReason: WeakSet<UpstreamLink> | undefined;
  /** Per broker, when it last closed this session's link cleanly (see takenOverAtBroker). */
  private cleanCloses = emptyMap<string, number>();
  /** When each broker last refused a publish with 0x87 (see denied-close.ts). */
  private deniedAt = emptyMap<string, number>();

  /** A broker sent DISCONNECT on this link (v5), with this reason. */
  brokerDisconnect(link: UpstreamLink, reasonCode: number | undefined): void {
    if (reasonCode === SESSION_TAKEN_OVER) {
      this.takenOverAt ??= new WeakSet();
      this.takenOverAt.add(link);
    } else {
      this.closedForAReason ??= new WeakSet();
      this.closedForAReason.add(link);
    }
  }

  /** A broker refused a publish with 0x87 (Not authorized). */
  refused(brokerId: string): void {
    this.deniedAt = writableMap(this.deniedAt);
    this.deniedAt.set(brokerId, Date.now());
  }

  /** Whether the link closed because its broker ended the client for a refused publish (denied-close.ts). */
  closedForDenial(brokerId: string, reason: string): boolean {
    if (closedForDenial(this.deniedAt.get(brokerId), Date.now(), reason)) return true;
    this.deniedAt.delete(brokerId);
    return false;
  }

  /**
   * Whether the broker handed this link's session to another connection with the same client id: it
   * said so (v5 DISCONNECT 0x8E), or it closed the link cleanly (FIN, no DISCONNECT, no transport
   * error) a second time within TAKEOVER_WINDOW_MS, which is what two orchestrators resuming the
   * session from each other look like: Mosquitto 2.0.11 closes a taken-over connection without a
   * DISCONNECT, so the first clean close is taken for a lost link (reconnected: a join replay may have
   * taken the link over once, docs/persistent-sessions.md), the second one in a row is not.
   */
  takenOverAtBroker(link: UpstreamLink): boolean {
    if (this.takenOverAt?.delete(link)) return true;
    if (!link.upstream.closedByBroker || this.closedForAReason?.has(link)) return false;
    const now = Date.now();
    const previous = this.cleanCloses.get(link.brokerId);
    this.cleanCloses = writableMap(this.cleanCloses);
    this.cleanCloses.set(link.brokerId, now);
    return previous !== undefined && now - previous < TAKEOVER_WINDOW_MS;
  }
}
