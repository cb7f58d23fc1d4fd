import type { IConnackPacket, Packet } from 'mqtt-packet';
import { errorMessage } from '../../common/errors.ts';
import type { PoolBroker } from '../pool/broker-pool.ts';
import { PacketIdSpace } from '../protocol/packet-ids.ts';
import { upstreamConnect } from './connect-steps.ts';
import type { UpstreamLink, UpstreamPending } from './context.ts';
import { DENIED_CLOSE_SETTLE_MS, NOT_AUTHORIZED } from './denied-close.ts';
import { emptyMap, writableMap } from './lazy-collections.ts';
import { LinkEndings } from './link-endings.ts';
import type { Session } from './session.ts';
import { Upstream, type UpstreamSink } from './upstream.ts';

/** A link just opened, with its broker's CONNACK; `resumed`: the broker kept its upstream session. */
export interface OpenedLink {
  link: UpstreamLink;
  connack: IConnackPacket;
  resumed: boolean;
}

/**
 * A session's upstream links over their life: opened (at CONNECT, or joining a broker new in the pool),
 * lost and reconnected with back-off, taken over at a broker, or closed as the broker leaves the pool.
 */
export class UpstreamLinks {
  /** Allocated on the first reconnect (lazy-collections.ts). */
  private reconnectTimers = emptyMap<string, NodeJS.Timeout>();
  /** How brokers ended this session's links (takeover, refused publish, a reason). */
  readonly endings = new LinkEndings();

  constructor(readonly s: Session) {}

  /** Opens one upstream; resolves with its CONNACK. The link is registered once the broker accepted. */
  async open(broker: PoolBroker, withWill: boolean): Promise<OpenedLink> {
    const s = this.s;
    const connect = s.connect;
    if (!connect) throw new Error('no CONNECT');
    // The broker's best level, whatever the client's: a 3.1.1 client's deliveries then carry the
    // retained move's marker too (common/move-marker.ts), which a 3.1.1 connection cannot.
    const brokerVersion = await s.deps.pool.linkVersion(broker.id);
    const grace = s.graces.forLink(broker.id, connect, brokerVersion);
    const limits = s.deps.limits;
    const upstream = new Upstream({
      brokerId: broker.id,
      host: broker.host,
      port: broker.port,
      tls: broker.tls,
      protocolVersion: brokerVersion,
      connect: upstreamConnect(connect, s.clientId, brokerVersion, withWill, grace),
      keepaliveSeconds: limits.upstreamKeepaliveSeconds,
      connectTimeoutMs: limits.upstreamConnectTimeoutMs,
      maxPacketBytes: limits.maxPacketBytes,
      defaultReceiveMaximum: limits.upstreamReceiveMaximum,
      v4Maximum: limits.maxInflightFromClient,
      graceful: grace.seconds > 0,
      heldAcks: s.deps.heldAcks,
    });
    const connack = await upstream.open();
    // Session present 1 on a resumed link: the broker kept the subscriptions and queued what came.
    const resumed = grace.resume && connack.sessionPresent;
    const link: UpstreamLink = {
      brokerId: broker.id,
      upstream,
      ids: new PacketIdSpace<UpstreamPending>(),
      synced: false,
    };
    if ((connack.reasonCode ?? connack.returnCode ?? 0) !== 0) return { link, connack, resumed };
    if (s.isClosed()) {
      upstream.drop();
      return { link, connack, resumed };
    }
    s.graces.opened(broker.id, grace.seconds);
    s.links.set(broker.id, link);
    s.linkGeneration += 1;
    if (s.upstreamsPaused) upstream.pause();
    upstream.attach(new LinkSink(this, link));
    return { link, connack, resumed };
  }

  failed(broker: PoolBroker, err: unknown): void {
    this.s.log.warn({ broker: broker.id, err: errorMessage(err) }, 'broker unreachable for this session');
    this.scheduleReconnect(broker.id);
  }

  /** A link's Upstream reported it down (LinkSink). */
  onDown(link: UpstreamLink, reason: string): void {
    const s = this.s;
    if (s.links.get(link.brokerId) !== link) return;
    s.links.delete(link.brokerId);
    s.linkGeneration += 1;
    for (const [, pending] of link.ids.entries()) {
      if (pending.kind === 'replay') pending.done(new Error(`broker ${link.brokerId} went down: ${reason}`));
    }
    if (s.state === 'closed') return;
    if (this.endings.closedForDenial(link.brokerId, reason)) return this.endAsBrokerDid(link.brokerId);
    if (link.upstream.protocolVersion === 4 && link.upstream.closedAfterAck && s.deps.brokerAlive) {
      // A 3.1.1 broker may have refused that publish: decided once a dead broker's other links closed too.
      const brokerAlive = s.deps.brokerAlive;
      setTimeout(() => {
        if (s.state === 'closed') return;
        if (brokerAlive(link.brokerId, s)) this.endAsBrokerDid(link.brokerId);
        else this.lost(link, reason);
      }, DENIED_CLOSE_SETTLE_MS).unref();
      return;
    }
    this.lost(link, reason);
  }

  /**
   * A broker gave this session to a newer connection with the same client id (LinkEndings):
   * the client is connected elsewhere now, typically moved to another orchestrator while this
   * session lingered. Reconnecting would take the session back there, and the other orchestrator
   * would take it back in turn (ping-pong). The stale session ends as a broker ends a taken-over
   * connection [MQTT-3.1.4-3]: v5 clients hear 0x8E; gracefully (no will), record left to the new one.
   */
  private movedAway(brokerId: string): void {
    const s = this.s;
    s.log.info({ broker: brokerId }, 'session taken over at a broker: the client is connected elsewhere');
    s.endTakenOver('broker', 'graceful');
  }

  /** The broker ended this client (a refused publish): the client is ended too, as the broker would. */
  private endAsBrokerDid(brokerId: string): void {
    const s = this.s;
    s.log.info({ broker: brokerId }, 'broker closed the connection after refusing a publish');
    if (s.version === 5) s.sendDown({ cmd: 'disconnect', reasonCode: NOT_AUTHORIZED });
    s.close('abrupt', 'broker closed the connection after refusing a publish');
  }

  private lost(link: UpstreamLink, reason: string): void {
    const s = this.s;
    if (s.state === 'connected' && this.endings.takenOverAtBroker(link)) return this.movedAway(link.brokerId);
    s.graces.lost(link.brokerId, s.subs?.active);
    s.log.warn({ broker: link.brokerId, reason }, 'broker connection lost');
    // A lazy session lost its one link: it opens the others now, as a full session has them (its
    // publishes held meanwhile go out as each joins; the recent ones are replayed once they are open).
    const opening = s.lazy.full || s.state !== 'connected' ? undefined : s.lazy.goFull(link.brokerId);
    s.subs?.onBrokerDown(link.brokerId);
    s.outbound?.onBrokerDown(link.brokerId);
    s.inbound?.onBrokerDown(link.brokerId);
    if (opening) void opening.then(() => this.replayRecent(link.brokerId));
    else this.replayRecent(link.brokerId);
    s.emit('linkDown', link.brokerId);
    this.scheduleReconnect(link.brokerId);
  }

  private replayRecent(brokerId: string): void {
    const replayed = this.s.inbound?.replayRecent(brokerId) ?? 0;
    if (replayed > 0)
      this.s.log.warn({ broker: brokerId, replayed }, 'recent QoS 1 publishes re-sent to other brokers');
  }

  /** Reconnects to a broker that is still in the pool, with back-off; replays subscriptions. */
  scheduleReconnect(brokerId: string, attempt = 0): void {
    const s = this.s;
    if (s.state === 'closed' || this.reconnectTimers.has(brokerId)) return;
    const { first, max } = s.deps.limits.reconnectDelayMs;
    const delay = Math.min(max, first * 2 ** attempt);
    const timer = setTimeout(() => {
      this.reconnectTimers.delete(brokerId);
      const broker = s.deps.pool.get(brokerId);
      if (!broker || broker.state === 'draining' || s.state !== 'connected' || s.links.has(brokerId)) return;
      void this.join(broker).catch(() => this.scheduleReconnect(brokerId, attempt + 1));
    }, delay);
    timer.unref();
    this.reconnectTimers = writableMap(this.reconnectTimers);
    this.reconnectTimers.set(brokerId, timer);
  }

  /** Whether a reconnect to this broker is scheduled. */
  reconnecting(brokerId: string): boolean {
    return this.reconnectTimers.has(brokerId);
  }

  /** The session closed: no reconnect any more. */
  stopReconnects(): void {
    for (const t of this.reconnectTimers.values()) clearTimeout(t);
    this.reconnectTimers.clear();
  }

  /** Connects to a broker (new in the pool, or back), replays every subscription, marks it synced. */
  async join(broker: PoolBroker): Promise<void> {
    const s = this.s;
    if (s.state !== 'connected' || s.links.has(broker.id)) return;
    if (!s.lazy.full && broker.id !== s.homeId) return; // a lazy session opens it when it needs it
    // The home broker holds the will: it is registered again when the home broker comes back.
    const { link, connack, resumed } = await this.open(broker, broker.id === s.homeId);
    const code = connack.reasonCode ?? connack.returnCode ?? 0;
    if (code !== 0) throw new Error(`broker ${broker.id} refused the session with code ${code}`);
    // A resumed upstream session has the subscriptions it had when its link was lost: only the changes.
    let replaying: Promise<void> | undefined;
    if (resumed) replaying = s.subs?.restore(link, s.graces.before(broker.id));
    else {
      s.outbound?.forgetHandedOver(broker.id);
      replaying = s.subs?.replay(link);
    }
    s.subs?.coverPending(link); // SUBSCRIBEs still waiting for the other brokers go here too
    await replaying;
    s.graces.synced(broker.id);
    link.synced = true;
    s.linkGeneration += 1;
    // Every copy of the record now lists this broker among those with the subscriptions.
    if (s.registrySync?.persistent) s.registrySync.write(s.links, s.subs?.active.values() ?? []);
    s.inbound?.resendHeld();
    s.emit('synced', broker.id);
  }

  /** The broker left the pool: say goodbye to it cleanly; unacknowledged publishes move. */
  leave(brokerId: string): void {
    const s = this.s;
    const link = s.links.get(brokerId);
    const timer = this.reconnectTimers.get(brokerId);
    if (timer) clearTimeout(timer);
    this.reconnectTimers.delete(brokerId);
    s.graces.forget(brokerId);
    if (!link) return;
    s.links.delete(brokerId);
    s.linkGeneration += 1;
    // A lazy session's home broker left: it opens links to the others (its publishes wait for them).
    if (!s.lazy.full && s.state === 'connected') void s.lazy.goFull();
    link.upstream.disconnect();
    s.subs?.onBrokerDown(brokerId);
    s.outbound?.onBrokerDown(brokerId);
    s.outbound?.forgetHandedOver(brokerId);
    s.inbound?.onBrokerLeft(brokerId);
  }

  dropAll(): void {
    const s = this.s;
    for (const link of s.links.values()) link.upstream.drop();
    s.links.clear();
    s.linkGeneration += 1;
  }
}

/** Where one link's broker packets and reports go (Upstream.attach). */
class LinkSink implements UpstreamSink {
  constructor(
    private readonly links: UpstreamLinks,
    private readonly link: UpstreamLink,
  ) {}

  packet(p: Packet): void {
    this.links.s.packets.onBrokerPacket(this.link, p);
  }

  down(reason: string): void {
    this.links.onDown(this.link, reason);
  }

  unencodable(p: Packet, err: Error): void {
    this.links.s.protocolError(`a ${p.cmd} from the client cannot be relayed: ${err.message}`, 0x81);
  }
}
