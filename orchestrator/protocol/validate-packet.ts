import type { Packet } from 'mqtt-packet';

/**
 * Checks the parts of a client packet that mqtt-packet accepts but a broker would close the
 * connection on (pure). Returns the problem and the v5 reason code, or undefined.
 */
export function packetProblem(packet: Packet): { reason: string; code: number } | undefined {
  const id = (packet as { messageId?: number }).messageId;
  switch (packet.cmd) {
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'subscribe':
    case 'unsubscribe':
      // [MQTT-2.3.1-1]: a non-zero 16-bit packet identifier.
      if (id === undefined || !Number.isInteger(id) || id < 1 || id > 65_535) {
        return { reason: `${packet.cmd} without a valid packet identifier`, code: 0x81 };
      }
      break;
    case 'publish':
      if (packet.qos > 0 && (id === undefined || id < 1 || id > 65_535)) {
        return { reason: 'QoS > 0 PUBLISH without a valid packet identifier', code: 0x81 };
      }
      // [MQTT-3.3.4-6]: a client's PUBLISH carries no Subscription Identifier (both roads read it into
      // `properties`: a broker's deliveries carry them).
      if (packet.properties?.subscriptionIdentifier !== undefined) {
        return { reason: 'PUBLISH from a client with a subscription identifier', code: 0x82 };
      }
      break;
  }
  if (packet.cmd === 'subscribe' && packet.subscriptions.length === 0) {
    return { reason: 'SUBSCRIBE with no topic filter', code: 0x82 }; // [MQTT-3.8.3-3]
  }
  if (packet.cmd === 'unsubscribe' && packet.unsubscriptions.length === 0) {
    return { reason: 'UNSUBSCRIBE with no topic filter', code: 0x82 }; // [MQTT-3.10.3-2]
  }
  const properties = (packet as { properties?: Record<string, unknown> }).properties;
  if (properties) {
    const problem = propertiesProblem(properties);
    if (problem) return { reason: problem, code: 0x81 };
  }
  return undefined;
}

/**
 * A UTF-8 string property must be well-formed (mqtt-packet turns bad bytes into U+FFFD), hold no
 * U+0000 [MQTT-1.5.4-2], and no control characters (brokers close the connection on them).
 */
function badString(value: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  return /[\u0000-\u001f\u007f-\u009f\ufffd]/.test(value);
}

const STRING_PROPERTIES = ['contentType', 'responseTopic', 'reasonString', 'authenticationMethod'];

export function propertiesProblem(properties: Record<string, unknown>): string | undefined {
  for (const name of STRING_PROPERTIES) {
    const value = properties[name];
    if (typeof value === 'string' && badString(value)) return `ill-formed ${name} property`;
  }
  const user = properties.userProperties;
  if (user !== undefined) {
    if (typeof user !== 'object' || user === null) return 'ill-formed user property';
    for (const [key, value] of Object.entries(user)) {
      const values = Array.isArray(value) ? value : [value];
      if (key === 'null' || badString(key) || values.some((v) => typeof v !== 'string' || badString(v))) {
        return 'ill-formed user property';
      }
    }
  }
  return undefined;
}
