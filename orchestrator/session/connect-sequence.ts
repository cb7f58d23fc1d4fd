import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import { errorMessage } from '../../common/errors.ts';
import type { PoolBroker } from '../pool/broker-pool.ts';
import { keptFrames } from '../protocol/kept-frames.ts';
import { isPersistent } from '../registry/reserved.ts';
import { homeBrokerRanking } from '../routing/strategies.ts';
import { clientConnack, refusal, validateConnect } from './connect-steps.ts';
import { InboundPublishes } from './inbound-publish.ts';
import { OutboundDeliveries } from './outbound-delivery.ts';
import { brokersToReach, resync, syncRegistry } from './registry-steps.ts';
import { RegistrySync } from './registry-sync.ts';
import type { Session } from './session.ts';
import { SubscriptionFanout } from './subscriptions.ts';
import { TopicAliases } from './topic-alias.ts';
import type { OpenedLink } from './upstream-links.ts';

/**
 * The CONNECT sequence, a short list of named steps (validate, admit, take over, open upstreams,
 * registry, CONNACK, flush); the pure parts of each step are in connect-steps.ts.
 */
export async function runConnect(s: Session, packet: IConnectPacket): Promise<void> {
  const version: 4 | 5 = packet.protocolVersion === 5 ? 5 : 4;
  s.version = version;
  s.down.setVersion(packet.protocolVersion === 5 ? 5 : 4);
  // Step 1: validate.
  const check = validateConnect(packet);
  if (!check.ok) {
    s.log.info({ reason: check.reason }, 'CONNECT refused');
    s.sendDown(refusal(version, check.code));
    return s.close('graceful', check.reason);
  }
  // Step 1b: admission at the bounded connect rate (limits.connectsPerSecond): wait, or be refused.
  // The wait is bounded by the queue (maxQueuedConnects / connectsPerSecond), not by connectTimeoutMs,
  // which starts again once the CONNECT is admitted (it bounds the broker side of the connect).
  const admission = s.deps.admit?.(s, () => s.isClosed()) ?? 'admitted';
  if (typeof admission !== 'string') s.lifetime.stopConnectTimer();
  if ((typeof admission === 'string' ? admission : await admission) === 'refused') {
    if (s.isClosed()) return;
    // v5: 0x9F Connection rate exceeded (§3.2.2.2); 3.1.1: 3 Server unavailable (its closest).
    s.sendDown(version === 5 ? { cmd: 'connack', sessionPresent: false, reasonCode: 0x9f } : refusal(4, 3));
    return s.close('graceful', 'connection rate exceeded');
  }
  if (s.isClosed()) return;
  if (typeof admission !== 'string') s.lifetime.armConnectTimer();
  s.clientId = check.clientId;
  s.log = s.deps.log.child({ clientId: s.clientId });
  setupFlows(s, packet);
  // Only a session that outlives its connection needs its subscriptions on every broker from the start.
  s.lazy.begin(isPersistent(version, packet.clean ?? true, packet.properties?.sessionExpiryInterval));
  s.pauseUpstreams('connecting');
  // Step 2: take over a session with the same client id, as a broker would (on the other replicas
  // too, once the home broker accepted the client: step 3).
  s.claimedAt = Date.now();
  const previous = s.deps.claim(s.clientId, s);
  previous?.takeOver();
  // Step 3: open upstreams: the home broker (with the will) first, then the others.
  // A persistent session links to a draining broker too: what it queued for the session while the
  // client was away (being moved) is delivered before the broker goes; nothing is routed there.
  const brokers = s.deps.pool
    .list()
    .filter((b) => b.state === 'active' || b.state === 'joining' || (s.lazy.full && b.state === 'draining'));
  const activeIds = brokers.filter((b) => b.state === 'active').map((b) => b.id);
  const ranking = homeBrokerRanking(s.clientId, activeIds.length > 0 ? activeIds : brokers.map((b) => b.id));
  let home: OpenedLink | undefined;
  for (const id of ranking) {
    const broker = s.deps.pool.get(id);
    if (!broker || s.isClosed()) continue;
    try {
      home = await s.uplinks.open(broker, true);
      break;
    } catch (err) {
      s.log.warn({ broker: id, err: errorMessage(err) }, 'home broker candidate unreachable');
    }
  }
  if (s.isClosed()) return s.uplinks.dropAll();
  if (!home) {
    s.sendDown(refusal(version, 3)); // server unavailable
    return s.close('graceful', 'no broker reachable');
  }
  s.homeId = home.link.brokerId;
  const homeCode = home.connack.reasonCode ?? home.connack.returnCode ?? 0;
  if (homeCode !== 0) {
    // Auth passthrough: the broker's refusal, translated to the client's level.
    s.sendDown(clientConnack(home.connack, home.link.upstream.protocolVersion, version, undefined));
    s.links.delete(home.link.brokerId);
    s.linkGeneration += 1;
    return s.close('graceful', `home broker refused with code ${homeCode}`);
  }
  // Accepted (a refused CONNECT must not end the client's session elsewhere): a session of this
  // client on another replica ends now, before these links take it over at the brokers (claims.ts).
  s.deps.announce?.(s);
  const homeId = home.link.brokerId;
  const others = brokers.filter((b) => b.id !== homeId);
  const reached = await brokersToReach(s, others);
  if (s.isClosed()) return s.uplinks.dropAll();
  const fresh = new Set<string>(home.connack.sessionPresent ? [] : [homeId]);
  await Promise.all(
    reached.map((b) =>
      s.uplinks.open(b, false).then(
        (r) => !r.connack.sessionPresent && fresh.add(b.id),
        (err) => s.uplinks.failed(b, err),
      ),
    ),
  );
  if (s.isClosed()) return s.uplinks.dropAll();
  const { resumed, replayOn, ended } = await syncRegistry(s, packet, fresh);
  if (s.isClosed()) return s.uplinks.dropAll();
  // Links opened with the CONNECT have every subscription already: none yet, or the brokers' own
  // persistent session; but those the registry says lack the session's subscriptions (resync below).
  for (const link of s.links.values()) link.synced = !replayOn.includes(link);
  s.linkGeneration += 1;
  // The record names this replica as the holder now (a clean start removes it).
  // A broker skipped for holding no record has none to end: a tombstone only for one out of reach.
  const missed = reached.length === others.length && s.lifetime.missesBroker();
  s.registrySync?.write(s.links, s.subs?.active.values() ?? [], missed);
  // Step 4: CONNACK, the home broker's.
  const limits = s.deps.limits;
  const extra: IConnackPacket['properties'] = {
    receiveMaximum: limits.maxInflightFromClient,
    topicAliasMaximum: limits.topicAliasMaximum,
    maximumPacketSize: limits.maxPacketBytes,
    ...(check.assigned ? { assignedClientIdentifier: s.clientId } : {}),
  };
  // The session lives on in the registry although the home broker never had it (it joined later):
  // its subscriptions are in place again, so the client is told its session is present.
  // A record newer than the home broker's session says the session ended (a tombstone): what the
  // home broker kept is left over from before (it missed the end), not the client's session.
  const present = resumed || (home.connack.sessionPresent && !ended);
  const connack =
    present === home.connack.sessionPresent ? home.connack : { ...home.connack, sessionPresent: present };
  s.sendDown(clientConnack(connack, home.link.upstream.protocolVersion, version, extra));
  s.lifetime.stopConnectTimer();
  s.state = 'connected';
  s.lifetime.startKeepalive(packet.keepalive ?? 0);
  s.log.info(
    { brokers: [...s.links.keys()], home: home.link.brokerId, clean: packet.clean },
    'client connected',
  );
  // Step 5: flush what the client sent while we were connecting.
  s.packets.flushEarly();
  s.resumeUpstreams('connecting');
  s.resumeClient('connecting');
  s.emit('connected');
  for (const link of replayOn) resync(s, link);
  if (!s.lazy.full) s.lazy.trim();
  joinMissed(s, brokers);
}

/**
 * Brokers that joined the pool while this session was connecting: join() skipped them (it waits for
 * 'connected'), and without a link the broker would never be synced on this replica, so the
 * manager's join would wait for it until its action timeout. They are joined now.
 */
function joinMissed(s: Session, opened: readonly PoolBroker[]): void {
  const known = new Set(opened.map((b) => b.id));
  for (const b of s.deps.pool.list()) {
    if (known.has(b.id) || s.links.has(b.id) || s.uplinks.reconnecting(b.id)) continue;
    if (b.state !== 'active' && b.state !== 'joining') continue;
    void s.uplinks.join(b).catch((err) => s.uplinks.failed(b, err));
  }
}

/** The session's flows (publish, delivery, subscriptions) and its registry record, for this CONNECT. */
function setupFlows(s: Session, packet: IConnectPacket): void {
  const limits = s.deps.limits;
  s.inbound = new InboundPublishes(
    s,
    s.deps.router,
    new TopicAliases(limits.topicAliasMaximum),
    limits.maxInflightFromClient,
    {
      windowMs: limits.replayWindowMs,
      maxMessages: limits.replayMaxMessages,
      // In the process's slabs: the session's tick moves stale frames out (kept-frames.ts).
      frames: keptFrames,
    },
    limits.maxWaitingPublishBytes,
    s.deps.qos2,
    s.deps.pool,
  );
  const clientReceiveMax = packet.properties?.receiveMaximum ?? 65_535;
  s.outbound = new OutboundDeliveries(
    s,
    Math.min(limits.deliveryWindow, clientReceiveMax),
    limits.maxBufferedDeliveries,
    packet.properties?.maximumPacketSize ?? Number.POSITIVE_INFINITY,
  );
  s.subs = new SubscriptionFanout(s);
  if (s.deps.registry) s.registrySync = new RegistrySync(s.deps.registry, s.clientId, packet);
}
