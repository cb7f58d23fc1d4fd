import type { IDisconnectPacket, IPublishPacket, Packet } from 'mqtt-packet';
import { PacketTooLargeError } from '../protocol/framed-stream.ts';
import { packetProblem } from '../protocol/validate-packet.ts';
import { runConnect } from './connect-sequence.ts';
import type { UpstreamLink } from './context.ts';
import { NOT_AUTHORIZED } from './denied-close.ts';
import { emptyArray, takeAll, writableArray } from './lazy-collections.ts';
import { setAside } from './message-expiry.ts';
import type { Session } from './session.ts';

/**
 * A session's packets, from the client and from its brokers, to the flow that handles each: CONNECT to
 * the connect sequence, publishes, acknowledgements and subscriptions to their flows. What comes before
 * the session is connected waits, in order, until it is.
 */
export class PacketDispatch {
  /** When the client last sent anything (keepalive). */
  lastActivity = Date.now();
  private early: Packet[] = emptyArray();
  private earlyFromBrokers: Array<[UpstreamLink, Packet]> = emptyArray();

  constructor(private readonly s: Session) {}

  // ---- client side ----------------------------------------------------------------------------

  onClientBadInput(err: Error): void {
    const s = this.s;
    const tooLarge = err instanceof PacketTooLargeError;
    s.log.warn({ err: err.message }, tooLarge ? 'packet too large' : 'malformed packet');
    if (s.version === 5 && s.state === 'connected') {
      s.sendDown({ cmd: 'disconnect', reasonCode: tooLarge ? 0x95 : 0x81 });
    }
    s.close('abrupt', err.message);
  }

  onClientPacket(packet: Packet): void {
    const s = this.s;
    this.lastActivity = Date.now();
    if (s.state === 'closed') return;
    if (s.state === 'connecting') {
      if (s.connect === undefined) {
        if (packet.cmd !== 'connect') return s.close('abrupt', `${packet.cmd} before CONNECT`); // [MQTT-3.1.0-1]
        s.connect = packet;
        // Nothing more is read from the client until it is connected: the early queue stays small.
        s.pauseClient('connecting');
        void runConnect(s, packet);
      } else if (packet.cmd === 'connect') {
        s.close('abrupt', 'second CONNECT'); // [MQTT-3.1.0-2]
      } else {
        this.early = writableArray(this.early);
        this.early.push(packet); // sent right after CONNECT: handled once connected
        setAside(packet);
      }
      return;
    }
    this.dispatch(packet);
  }

  dispatch(packet: Packet): void {
    const s = this.s;
    const lazy = s.lazy;
    if (lazy.hold(packet)) return; // the client is paused: at most the packet in hand
    if (!lazy.full && lazy.mustWaitFor(packet)) {
      void lazy.goFull();
      if (lazy.hold(packet)) return;
    }
    const problem = packetProblem(packet);
    if (problem) return s.protocolError(problem.reason, problem.code);
    switch (packet.cmd) {
      case 'publish':
        return s.inbound?.onPublish(packet);
      case 'puback':
      case 'pubrec':
      case 'pubcomp':
        return s.outbound?.onClientAck(packet);
      case 'pubrel':
        return s.inbound?.onPubrel(packet.messageId ?? 0);
      case 'subscribe':
        // The orchestrator re-reads which brokers it lacks (isSynced) before any has the subscription.
        if (s.lazy.startReceiving() && s.state === 'connected') s.emit('receiving');
        return s.subs?.onSubscribe(packet);
      case 'unsubscribe':
        return s.subs?.onUnsubscribe(packet);
      case 'pingreq':
        s.sendDown({ cmd: 'pingresp' }); // keepalive is answered locally
        return;
      case 'disconnect':
        s.registrySync?.noteDisconnect(packet as IDisconnectPacket);
        return this.onClientDisconnect(packet);
      case 'connect':
        return s.protocolError('second CONNECT', 0x82); // [MQTT-3.1.0-2]
      case 'auth':
        // No Authentication Method was accepted in CONNECT, so AUTH is a protocol error (0x8C is CONNACK-only).
        return s.protocolError('enhanced authentication (AUTH) is not supported', 0x82);
      default:
        return s.protocolError(`unexpected ${packet.cmd} from a client`, 0x82);
    }
  }

  /**
   * DISCONNECT from the client, passed on to every broker: a v5 Session Expiry Interval in it replaces
   * the CONNECT's (§3.14.2.2.2), and reason 0x04 (disconnect with will message) makes the home broker
   * publish the will. A 3.1.1 broker hears neither: it is closed abruptly for 0x04 instead.
   */
  private onClientDisconnect(packet: IDisconnectPacket): void {
    const s = this.s;
    const v5 = s.version === 5;
    const expiry = v5 ? packet.properties?.sessionExpiryInterval : undefined;
    if (expiry !== undefined && expiry > 0 && (s.connect?.properties?.sessionExpiryInterval ?? 0) === 0) {
      // [MQTT-3.14.2-2]: a session that was to end at the close cannot be made to outlive it.
      return s.protocolError('DISCONNECT sets a Session Expiry Interval after CONNECT said 0', 0x82);
    }
    const reasonCode = v5 && packet.reasonCode === 0x04 ? 0x04 : undefined;
    s.close('graceful', 'client DISCONNECT', { reasonCode, sessionExpiryInterval: expiry });
  }

  /** CONNECT step 5: what the client and the brokers sent while the session was connecting. */
  flushEarly(): void {
    for (const p of takeAll(this.early)) this.dispatch(p);
    for (const [link, p] of takeAll(this.earlyFromBrokers)) this.onBrokerPacket(link, p);
  }

  // ---- broker side ----------------------------------------------------------------------------

  onBrokerPacket(link: UpstreamLink, packet: Packet): void {
    const s = this.s;
    if (s.state === 'connecting') {
      // Nothing reaches the client before its CONNACK: held (upstreams are paused meanwhile).
      this.earlyFromBrokers = writableArray(this.earlyFromBrokers);
      this.earlyFromBrokers.push([link, packet]);
      return;
    }
    const id = (packet as { messageId?: number }).messageId ?? 0;
    switch (packet.cmd) {
      case 'publish':
        return s.outbound?.onBrokerPublish(link, packet as IPublishPacket);
      case 'pubrel':
        return s.outbound?.onBrokerPubrel(link, id);
      case 'puback':
      case 'pubrec':
      case 'pubcomp': {
        const pending = link.ids.get(id);
        if ((packet as { reasonCode?: number }).reasonCode === NOT_AUTHORIZED)
          s.uplinks.endings.refused(link.brokerId);
        if (pending?.kind === 'publish') s.inbound?.onBrokerAck(link, packet, pending.downId);
        else if (pending?.kind === 'republish') link.ids.release(id);
        return;
      }
      case 'suback':
      case 'unsuback': {
        const pending = link.ids.get(id);
        if (pending?.kind === 'subscribe' || pending?.kind === 'unsubscribe') {
          s.subs?.onBrokerAck(link, packet, pending.requestId);
        } else if (pending?.kind === 'replay') {
          link.ids.release(id);
          pending.done();
        }
        return;
      }
      case 'disconnect': {
        const reasonCode = (packet as IDisconnectPacket).reasonCode;
        s.uplinks.endings.brokerDisconnect(link, reasonCode);
        s.log.warn({ broker: link.brokerId, reasonCode }, 'broker sent DISCONNECT');
        return;
      }
      default:
        s.log.warn({ broker: link.brokerId, cmd: packet.cmd }, 'unexpected packet from a broker: ignored');
    }
  }
}
