import type { UpstreamLink } from './context.ts';
import { closedForDenial } from './denied-close.ts';
import { emptyMap, writableMap } from './lazy-collections.ts';

/** MQTT 5 reason code 0x8E: Session taken over (a newer connection with the same client id). */
export const SESSION_TAKEN_OVER = 0x8e;

/**
 * Why a session ended for a newer connection of its client, by where that connection was seen: here
 * (this replica), through another replica's claim (claims.ts), or at a broker (its close).
 * The close reasons; the keys label brokel_orchestrator_sessions_taken_over_total (Session.takenOver).
 */
export const TAKEN_OVER_REASONS = {
  here: 'session taken over',
  replica: 'session taken over through another replica',
  broker: 'session taken over at a broker',
} as const;
export type TakenOverBy = keyof typeof TAKEN_OVER_REASONS;
/** Clean closes of a link by its broker this close together may say the session lives on elsewhere. */
const TAKEOVER_WINDOW_MS = 10_000;
/**
 * How many in the window do (see takenOverAtBroker). Replicas hear of a takeover through claims first
 * (orchestrator/registry/claims.ts, through Mosquitto and RabbitMQ alike); this is the fallback for a
 * claim that did not come, set high enough that connection resets read as clean closes do not end the
 * client's session: a peer's RST can reach the socket as a plain end of stream, no ECONNRESET (8 of 26
 * relay resets in broker-version-probe.test.ts beside 3 busy loops, the RST seen on the wire with
 * tcpdump). Until session 13 it was 2, and two resets within 10 s lost what the broker held.
 */
const CLEAN_CLOSES_FOR_TAKEOVER = 4;

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
  /** Per broker, when it closed this session's links cleanly within the window (see takenOverAtBroker). */
  private cleanCloses = emptyMap<string, number[]>();
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
   * error) for the CLEAN_CLOSES_FOR_TAKEOVER-th time within TAKEOVER_WINDOW_MS, which is what two
   * orchestrators resuming the session from each other look like when claims did not settle it:
   * Mosquitto 2.0.11 closes a taken-over connection without a DISCONNECT. A first clean close is a
   * lost link (reconnected: a join replay may have taken the link over once,
   * docs/persistent-sessions.md).
   */
  takenOverAtBroker(link: UpstreamLink): boolean {
    if (this.takenOverAt?.delete(link)) return true;
    if (!link.upstream.closedByBroker || this.closedForAReason?.has(link)) return false;
    const now = Date.now();
    const recent = (this.cleanCloses.get(link.brokerId) ?? []).filter((at) => now - at < TAKEOVER_WINDOW_MS);
    recent.push(now);
    this.cleanCloses = writableMap(this.cleanCloses);
    this.cleanCloses.set(link.brokerId, recent);
    return recent.length >= CLEAN_CLOSES_FOR_TAKEOVER;
  }
}
