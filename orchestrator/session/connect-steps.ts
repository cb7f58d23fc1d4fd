import { randomBytes } from 'node:crypto';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import { connackFor } from '../protocol/reason-codes.ts';
import { isPersistent } from '../registry/reserved.ts';

/** The outcome of validating a CONNECT: the client id to use, or the CONNACK code that refuses it. */
export type ConnectCheck =
  | { ok: true; clientId: string; assigned: boolean }
  | { ok: false; code: number; reason: string };

/**
 * Step 1, validate (pure). MQTT 3.1.1 and 5.0 only; an empty client id gets a generated one
 * ([MQTT-3.1.3-6]) unless a 3.1.1 client also asks for a persistent session ([MQTT-3.1.3-8]: 0x02).
 */
export function validateConnect(packet: IConnectPacket): ConnectCheck {
  const v5 = packet.protocolVersion === 5;
  if (packet.protocolVersion !== 4 && packet.protocolVersion !== 5) {
    return {
      ok: false,
      code: 1,
      reason: `protocol level ${packet.protocolVersion} is not supported (3.1.1 and 5.0 are)`,
    };
  }
  if (packet.clientId === '' || packet.clientId === undefined) {
    if (!v5 && !packet.clean) return { ok: false, code: 2, reason: 'empty client id with clean session off' };
    return { ok: true, clientId: `brokel-${randomBytes(8).toString('hex')}`, assigned: true };
  }
  if (packet.clientId.includes('\u0000') || packet.clientId.includes('\ufffd')) {
    return { ok: false, code: v5 ? 0x85 : 2, reason: 'ill-formed client id' };
  }
  return { ok: true, clientId: packet.clientId, assigned: false };
}

/** The upstream session of a clean client session that outlives a lost link (see linkGraceSeconds). */
export interface LinkGrace {
  /** Session Expiry Interval of the upstream session; 0: none (it ends with its link). */
  seconds: number;
  /** The link comes back: Clean Start 0, to resume what the broker kept. */
  resume: boolean;
}

/**
 * The grace an upstream session gets (pure): only a session that ends with the client's connection
 * (3.1.1 clean session 1, or v5 with Session Expiry Interval 0), only towards an MQTT 5 broker (a
 * 3.1.1 broker has no session expiry: clean session 0 would never end), and only when configured.
 */
export function linkGraceSeconds(client: IConnectPacket, brokerVersion: 4 | 5, configured: number): number {
  if (brokerVersion !== 5 || configured <= 0) return 0;
  const version = client.protocolVersion === 5 ? 5 : 4;
  if (isPersistent(version, client.clean ?? true, client.properties?.sessionExpiryInterval)) return 0;
  return Math.min(Math.floor(configured), 0xfffffffe);
}

/**
 * Step 2, the CONNECT an upstream gets: the client's own id, credentials and session flags, at the
 * broker's level; the will only on the home broker (so it fires once). v5-only fields are dropped
 * for a 3.1.1 broker; a 3.1.1 client's session flags are translated for a v5 broker. A clean
 * session's upstream session gets `grace` (linkGraceSeconds) to outlive a lost link.
 */
export function upstreamConnect(
  client: IConnectPacket,
  clientId: string,
  brokerVersion: 4 | 5,
  withWill: boolean,
  grace: LinkGrace = { seconds: 0, resume: false },
): Omit<IConnectPacket, 'cmd' | 'protocolVersion' | 'protocolId' | 'keepalive'> {
  const base: Omit<IConnectPacket, 'cmd' | 'protocolVersion' | 'protocolId' | 'keepalive'> = {
    clientId,
    clean: client.clean ?? true,
  };
  if (client.username !== undefined) base.username = client.username;
  if (client.password !== undefined) base.password = client.password;
  if (withWill && client.will) {
    base.will =
      brokerVersion === 5
        ? client.will
        : {
            topic: client.will.topic,
            payload: client.will.payload,
            qos: client.will.qos,
            retain: client.will.retain,
          };
  }
  if (
    brokerVersion === 5 &&
    client.protocolVersion === 5 &&
    client.properties?.sessionExpiryInterval !== undefined
  ) {
    base.properties = { sessionExpiryInterval: client.properties.sessionExpiryInterval };
  }
  // A 3.1.1 client over MQTT 5: clean session 0 is a session that never expires (v5 §3.1.2.11.2,
  // 0xFFFFFFFF); clean session 1 is clean start 1 with expiry 0, the v5 default.
  if (brokerVersion === 5 && client.protocolVersion !== 5 && client.clean === false) {
    base.properties = { sessionExpiryInterval: 0xffffffff };
  }
  // A clean session (linkGraceSeconds gives 0 for any other): its expiry 0 becomes the grace.
  if (grace.seconds > 0) {
    // A link that comes back after a reset resumes the upstream session (Clean Start 0): the broker
    // kept its subscriptions and queued what came meanwhile (v5 §3.1.2.4, §3.1.2.11.2).
    if (grace.resume) base.clean = false;
    base.properties = { sessionExpiryInterval: grace.seconds };
  }
  return base;
}

/** Step 4, the client's CONNACK, from the home broker's, translated to the client's level. */
export function clientConnack(
  home: IConnackPacket,
  homeVersion: 4 | 5,
  clientVersion: 4 | 5,
  extra: IConnackPacket['properties'],
): IConnackPacket {
  const homeCode = home.reasonCode ?? home.returnCode ?? 0;
  const code = connackFor(homeCode, homeVersion, clientVersion);
  const sessionPresent = code === 0 ? home.sessionPresent : false; // [MQTT-3.2.2-4]
  if (clientVersion === 5) {
    return {
      cmd: 'connack',
      sessionPresent,
      reasonCode: code,
      ...(code === 0 && extra ? { properties: extra } : {}),
    };
  }
  return { cmd: 'connack', sessionPresent, returnCode: code };
}

/** A refusal CONNACK of our own (no broker involved). */
export function refusal(clientVersion: 4 | 5, v4Code: number): IConnackPacket {
  return clientVersion === 5
    ? { cmd: 'connack', sessionPresent: false, reasonCode: connackFor(v4Code, 4, 5) }
    : { cmd: 'connack', sessionPresent: false, returnCode: v4Code };
}
