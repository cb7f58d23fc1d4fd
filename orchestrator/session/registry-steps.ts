import type { IConnectPacket, ISubscription } from 'mqtt-packet';
import { errorMessage } from '../../common/errors.ts';
import type { PoolBroker } from '../pool/broker-pool.ts';
import { hasRecordedSubscriptions } from '../registry/reserved.ts';
import type { UpstreamLink } from './context.ts';
import type { RegistrySync } from './registry-sync.ts';
import type { Session } from './session.ts';

/** What the session registry says at CONNECT (syncRegistry). */
export interface RegistryAtConnect {
  resumed: boolean;
  replayOn: UpstreamLink[];
  ended?: boolean;
}

/**
 * CONNECT step 3a, the brokers besides the home one that the CONNECT reaches. A session that keeps a
 * link to each (persistent, and every session on a replica without a registry) reaches them all. A
 * lazy session keeps its home link only, and reaches the others just to end there an older session of
 * the client [MQTT-3.1.2-6] (a CONNECT with clean start, then goodbye: two connections per CONNECT
 * that cost ~2.7 KB of RSS per connected client, docs/data-plane.md "Upstream links per client"); so
 * it skips them when they hold no registry record of the client: a session that outlives its
 * connection writes one on every broker, and so does the registry for the sessions it recreates.
 * What is left without a record (a CONNECT cut short before its record, an upstream session's grace
 * after a lost link) is the degradation table's (docs/data-plane.md).
 */
export async function brokersToReach(
  s: Session,
  others: readonly PoolBroker[],
): Promise<readonly PoolBroker[]> {
  const registry = s.deps.registry;
  if (s.lazy.full || others.length === 0 || !registry) return others;
  return (await registry.noRecordOn(s.clientId, others)) ? [] : others;
}

/**
 * CONNECT step 3b, the session registry: a resumed session takes its subscriptions from the record
 * (made through another orchestrator, or before this one restarted); brokers that answered
 * session present 0 are returned, to get them replayed once connected (they stay unsynced, so not
 * routable, until then). The record then names this replica as the session's holder. A clean start
 * (or a session that ends with its connection) removes the record.
 */
export async function syncRegistry(
  s: Session,
  packet: IConnectPacket,
  fresh: ReadonlySet<string>,
): Promise<RegistryAtConnect> {
  const sync = s.registrySync;
  const subs = s.subs;
  if (!sync || !subs) return { resumed: false, replayOn: [] };
  // The record is read from a broker that had the session (it holds the record), if any.
  const ids = [...s.links.keys()].sort((p, q) => Number(fresh.has(p)) - Number(fresh.has(q)));
  const linked = ids.flatMap((id) => s.deps.pool.get(id) ?? []);
  let entry: Awaited<ReturnType<RegistrySync['load']>>;
  try {
    entry = await sync.load(packet.clean ?? true, linked);
  } catch (err) {
    s.log.warn({ err: errorMessage(err) }, 'session registry unreadable: subscriptions not restored');
  }
  const recorded = entry?.subscriptions.map((sub) => ({ ...sub }) as ISubscription);
  // QoS 2 deliveries the client received before it left: their PUBRELs come under the ids it knows.
  for (const r of entry?.releases ?? [])
    if (s.links.has(r.broker)) s.outbound?.expectRelease(r.broker, r.up, r.down);
  for (const sub of recorded ?? []) subs.adopt(sub);
  if (!entry || !recorded || recorded.length === 0) {
    // An older copy had filters the newest has not (the session ended or changed while a broker was
    // out of reach): a broker that answered session present may still hold them (resync drops them).
    const present = [...s.links.values()].filter((l) => !fresh.has(l.brokerId));
    return {
      resumed: false,
      replayOn: sync.staleAtLoad.length > 0 ? present : [],
      ended: sync.endedAtLoad,
    };
  }
  // "Session present" is trusted only from a broker the record lists as having the subscriptions:
  // another may hold a session of this client made by a link that was cut short (issue #13).
  const lacking = (id: string) => fresh.has(id) || !hasRecordedSubscriptions(entry, id);
  return {
    resumed: fresh.size < s.links.size,
    replayOn: [...s.links.values()].filter((l) => lacking(l.brokerId)),
  };
}

/** A broker that lacks this session's subscriptions gets them; until then it is not synced. */
export function resync(s: Session, link: UpstreamLink): void {
  const subs = s.subs;
  if (!subs) return;
  const stale = (s.registrySync?.staleAtLoad ?? [])
    .map((sub) => sub.topic)
    .filter((f) => !subs.active.has(f));
  subs
    .dropStale(link, stale)
    .then(() => subs.replay(link))
    .then(() => {
      if (s.links.get(link.brokerId) !== link) return;
      link.synced = true;
      if (s.registrySync?.persistent) s.registrySync.write(s.links, s.subs?.active.values() ?? []);
      s.inbound?.resendHeld();
      s.emit('synced', link.brokerId);
    })
    .catch((err) =>
      s.log.warn({ broker: link.brokerId, err: errorMessage(err) }, 'subscriptions not restored'),
    );
}
