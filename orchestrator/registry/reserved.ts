import type { ISubscription } from 'mqtt-packet';
import { liveRecord, parsedVersion, type RegistryRecord, tombstoneOf } from './record-version.ts';

/**
 * The reserved topic space and the session registry's record format (pure).
 *
 * What a joining broker needs for persistent sessions (their subscriptions) is kept on the brokers
 * themselves, as one retained message per session under `$brokel/sessions/<clientId>`, so any
 * orchestrator replica (or one that restarted) can replay it (ARCHITECTURE.md, "State that must survive
 * pool changes"). Clients can neither publish nor subscribe there.
 */
export const RESERVED_PREFIX = '$brokel/';
export const REGISTRY_PREFIX = `${RESERVED_PREFIX}sessions/`;
/** Every registry record, one level below the prefix (client ids are encoded: no '/' in them). */
export const REGISTRY_FILTER = `${REGISTRY_PREFIX}+`;

const DOLLAR = 0x24;

/**
 * Presence: one retained record per live orchestrator replica, `$brokel/presence/<instanceId>`, kept
 * on every broker of its pool by a connection whose Will (retained, empty) clears it when the replica
 * dies [MQTT-3.1.2-8, MQTT-3.1.2-17]. A registry record naming a replica with no presence anywhere
 * is a dead holder's: the session is away (docs/chaos.md defect 3).
 */
export const PRESENCE_PREFIX = `${RESERVED_PREFIX}presence/`;
export const PRESENCE_FILTER = `${PRESENCE_PREFIX}+`;

export function presenceTopic(instanceId: string): string {
  return `${PRESENCE_PREFIX}${instanceId}`; // hex: no encoding needed
}

/** The replica a presence topic is for, or undefined when the topic is not a presence record. */
export function instanceOfPresenceTopic(topic: string): string | undefined {
  if (!topic.startsWith(PRESENCE_PREFIX)) return undefined;
  const id = topic.slice(PRESENCE_PREFIX.length);
  return id === '' || id.includes('/') ? undefined : id;
}

/**
 * Whether a PUBLISH topic is in the reserved space. On the publish path: one first-byte compare for
 * every ordinary topic; the prefix is looked at only for topics that start with '$'.
 */
export function isReservedTopic(topic: string): boolean {
  return topic.charCodeAt(0) === DOLLAR && (topic.startsWith(RESERVED_PREFIX) || topic === '$brokel');
}

/**
 * Whether a topic filter could match a reserved topic. Wildcards in the first level never match a
 * '$' topic [MQTT-4.7.2-1], so only a filter whose first level is `$brokel` can, also inside a
 * shared subscription (`$share/<group>/<filter>`, MQTT 5.0 §4.8.2).
 */
export function isReservedFilter(filter: string): boolean {
  if (filter.charCodeAt(0) !== DOLLAR) return false;
  if (filter.startsWith('$share/')) {
    const rest = filter.indexOf('/', 7);
    return rest >= 0 && isReservedFilter(filter.slice(rest + 1));
  }
  return filter === '$brokel' || filter.startsWith(RESERVED_PREFIX);
}

/** The registry topic of a client id; the id is percent-encoded, so '/', '+', '#' cannot leak into levels. */
export function registryTopic(clientId: string): string {
  return `${REGISTRY_PREFIX}${encodeURIComponent(clientId)}`;
}

/** The client id a registry topic is for, or undefined when the topic is not a registry record. */
export function clientIdOfRegistryTopic(topic: string): string | undefined {
  if (!topic.startsWith(REGISTRY_PREFIX)) return undefined;
  const encoded = topic.slice(REGISTRY_PREFIX.length);
  if (encoded === '' || encoded.includes('/')) return undefined;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

/** A subscription as the registry keeps it (what a broker needs to recreate it). */
export interface RegisteredSubscription {
  topic: string;
  qos: 0 | 1 | 2;
  nl?: boolean;
  rap?: boolean;
  rh?: number;
}

/** One persistent session's record. */
export interface RegistryEntry {
  clientId: string;
  /** The MQTT level the session speaks to the brokers (a 3.1.1 client's session is a 3.1.1 one). */
  protocolVersion: 4 | 5;
  /** v5 Session Expiry Interval to recreate it with; 3.1.1 sessions do not expire (0xFFFFFFFF). */
  sessionExpirySeconds: number;
  /** The orchestrator replica whose live session owns it, or null while the client is away. */
  online: string | null;
  subscriptions: RegisteredSubscription[];
  /**
   * QoS 2 deliveries the client had received (PUBREC) when it left, whose PUBREL the broker sends
   * when the session resumes: broker id, the broker's packet id, and the id the client knows.
   */
  releases?: PendingRelease[];
  /**
   * The brokers (pool ids, `host:port`) whose upstream session of this client has the subscriptions,
   * as the writer knew it. A broker not listed may hold a session of the client without them (a link
   * opened by a join or a CONNECT that the client's departure cut short, or a join replay taken over
   * by the client's own link): its "session present" is not trusted (issue #13). Absent: every broker
   * that answers session present is trusted (records written before this field).
   */
  subscribedAt?: string[];
  /** The record's version (record-version.ts); absent in records written before versions (oldest). */
  writtenAt?: number;
}

export interface PendingRelease {
  broker: string;
  up: number;
  down: number;
}

const isPacketId = (n: unknown): n is number =>
  Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65_535;

export const NEVER_EXPIRES = 0xffff_ffff;

/** Whether a CONNECT asks for a session that outlives the connection. */
export function isPersistent(
  version: 4 | 5,
  clean: boolean,
  sessionExpiryInterval: number | undefined,
): boolean {
  // 3.1.1: clean session 0 [MQTT-3.1.2-4]; 5.0: the session lasts past the connection only with a
  // Session Expiry Interval above 0 (§3.1.2.11.2), whatever Clean Start says.
  return version === 4 ? !clean : (sessionExpiryInterval ?? 0) > 0;
}

/**
 * Whether a broker that resumed a session (session present) has its recorded subscriptions: only
 * when the record lists it among those that have them, or the record predates that list.
 */
export function hasRecordedSubscriptions(entry: RegistryEntry, brokerId: string): boolean {
  return entry.subscribedAt === undefined || entry.subscribedAt.includes(brokerId);
}

export function toRegistered(sub: ISubscription): RegisteredSubscription {
  const out: RegisteredSubscription = { topic: sub.topic, qos: sub.qos };
  if (sub.nl !== undefined) out.nl = sub.nl;
  if (sub.rap !== undefined) out.rap = sub.rap;
  if (sub.rh !== undefined) out.rh = sub.rh;
  return out;
}

export function encodeEntry(entry: RegistryEntry): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ...entry }));
}

/** Parses a live record; a tombstone or anything malformed (a stray retained message) is undefined. */
export function decodeEntry(payload: Buffer): RegistryEntry | undefined {
  return liveRecord(decodeRecord(payload));
}

/** Parses a record, live or tombstone (record-version.ts); anything malformed is undefined. */
export function decodeRecord(payload: Buffer): RegistryRecord | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (r.ended !== undefined) return tombstoneOf(r);
  if (r.v !== 1 || typeof r.clientId !== 'string') return undefined;
  if (r.protocolVersion !== 4 && r.protocolVersion !== 5) return undefined;
  if (typeof r.sessionExpirySeconds !== 'number' || !Array.isArray(r.subscriptions)) return undefined;
  if (r.online !== null && typeof r.online !== 'string') return undefined;
  const subscriptions: RegisteredSubscription[] = [];
  for (const s of r.subscriptions as unknown[]) {
    const sub = s as Record<string, unknown>;
    if (typeof sub?.topic !== 'string' || (sub.qos !== 0 && sub.qos !== 1 && sub.qos !== 2)) return undefined;
    subscriptions.push(toRegistered(sub as unknown as ISubscription));
  }
  const releases: PendingRelease[] = [];
  for (const x of Array.isArray(r.releases) ? (r.releases as unknown[]) : []) {
    const rel = x as Record<string, unknown>;
    if (typeof rel?.broker !== 'string' || !isPacketId(rel.up) || !isPacketId(rel.down)) return undefined;
    releases.push({ broker: rel.broker, up: rel.up, down: rel.down });
  }
  const at = r.subscribedAt;
  if (at !== undefined && (!Array.isArray(at) || at.some((b) => typeof b !== 'string'))) return undefined;
  return {
    clientId: r.clientId,
    protocolVersion: r.protocolVersion,
    sessionExpirySeconds: r.sessionExpirySeconds,
    online: r.online as string | null,
    subscriptions,
    ...(releases.length > 0 ? { releases } : {}),
    ...(at !== undefined ? { subscribedAt: at as string[] } : {}),
    ...parsedVersion(r),
  };
}
