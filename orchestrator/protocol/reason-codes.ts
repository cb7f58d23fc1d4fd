/**
 * Translations between MQTT 3.1.1 return codes and MQTT 5.0 reason codes, for a v5 client behind a
 * 3.1.1-only broker (RabbitMQ 3.10) or the reverse (pure).
 */

/** 3.1.1 CONNACK return code → 5.0 CONNACK reason code (MQTT 5.0 §3.2.2.2, 3.1.1 §3.2.2.3). */
export function connackV4toV5(returnCode: number): number {
  switch (returnCode) {
    case 0:
      return 0x00;
    case 1:
      return 0x84; // unsupported protocol version
    case 2:
      return 0x85; // client identifier not valid
    case 3:
      return 0x88; // server unavailable
    case 4:
      return 0x86; // bad user name or password
    case 5:
      return 0x87; // not authorized
    default:
      return 0x80; // unspecified error
  }
}

/** 5.0 CONNACK reason code → the closest 3.1.1 return code. */
export function connackV5toV4(reasonCode: number): number {
  if (reasonCode < 0x80) return 0;
  switch (reasonCode) {
    case 0x84:
    case 0x01:
      return 1;
    case 0x85:
      return 2;
    case 0x86:
      return 4;
    case 0x87:
    case 0x8a: // banned
    case 0x8c: // bad authentication method
      return 5;
    default:
      return 3; // server unavailable
  }
}

export function connackFor(fromCode: number, fromVersion: number, toVersion: number): number {
  if ((fromVersion === 5) === (toVersion === 5)) return fromCode;
  return toVersion === 5 ? connackV4toV5(fromCode) : connackV5toV4(fromCode);
}

/**
 * SUBACK codes of several brokers for one filter → the one the client gets: failure when any broker
 * refused (the first refusal's code), else the lowest granted QoS. 3.1.1 failure is 0x80.
 */
export function mergeGranted(codes: readonly number[]): number {
  const refused = codes.find((c) => c >= 0x80);
  if (refused !== undefined) return refused;
  return codes.length === 0 ? 0x80 : Math.min(...codes);
}

/** A v5 SUBACK/UNSUBACK reason code for a v3.1.1 client (failures collapse to 0x80). */
export function subackForV4(code: number): number {
  return Math.min(code, 0x80);
}
