import { RESERVED_PREFIX } from './reserved.ts';

/**
 * Claims (pure): a session that connects on one replica says so to every other replica, so a session
 * of the same client id left on another replica ends there, as a broker ends a taken-over connection
 * [MQTT-3.1.4-3], without waiting for the brokers to close its links (Mosquitto 2.0.11 closes a
 * taken-over connection without a DISCONNECT 0x8E: a plain close that a connection reset can look like).
 *
 * One QoS 0 message per CONNECT on `$brokel/claim`, published on one broker by the replica's presence
 * connection, which also subscribes to it on every broker of its pool (orchestrator/registry/presence.ts).
 */
export const CLAIM_TOPIC = `${RESERVED_PREFIX}claim`;

export interface Claim {
  clientId: string;
  /** The replica the client connected to. */
  instanceId: string;
  /** When that replica took the CONNECT (ms since the epoch). */
  at: number;
}

/** A side of a comparison: a session, by when and where its client connected. */
export type ClaimStamp = Pick<Claim, 'instanceId' | 'at'>;

export function encodeClaim(claim: Claim): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, c: claim.clientId, i: claim.instanceId, t: claim.at }));
}

/** The claim a payload holds, or a reason it is not one (a message from elsewhere, a newer format). */
export function decodeClaim(payload: Buffer): Claim | string {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null) return 'not an object';
  const { v, c, i, t } = value as Record<string, unknown>;
  if (v !== 1) return `unknown claim format ${JSON.stringify(v)}`;
  if (typeof c !== 'string' || c === '') return 'no client id';
  if (typeof i !== 'string' || i === '') return 'no replica id';
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) return 'no time';
  return { clientId: c, instanceId: i, at: t };
}

/**
 * Whether `claim` is the newer connection of the two (the one that keeps the session): the later
 * CONNECT; the same millisecond goes to the greater replica id, so two replicas that hear each other's
 * claims agree on which one yields. Clocks of replicas on different hosts may differ: connections
 * closer together than that may keep the older one (its client, told 0x8E, connects again: newer).
 */
export function isNewerClaim(claim: ClaimStamp, session: ClaimStamp): boolean {
  if (claim.at !== session.at) return claim.at > session.at;
  return claim.instanceId > session.instanceId;
}
