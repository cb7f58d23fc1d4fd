import type { IDisconnectPacket, MqttClient } from 'mqtt';
import { parseHostPort } from '../../common/net/host-port.ts';

export interface FollowStats {
  /** v5 DISCONNECTs with a Server Reference followed. */
  redirects: number;
  /** Plain closes after which the DNS name was resolved again. */
  reresolved: number;
}

/**
 * Makes an MQTT.js client follow the orchestrators when they move it (docs/rebalancing.md), which
 * MQTT.js does not do by itself: a v5 DISCONNECT carrying a Server Reference (MQTT 5 §3.14.2.2.2,
 * sent with 0x9C "use another server") points its next reconnect there; after a plain close (a
 * 3.1.1 client gets no DISCONNECT from a server) `reresolve` gives the address the DNS name has now.
 *
 * With `reresolve`, this takes over reconnecting (MQTT.js's own timer would not wait for the DNS
 * answer and could go back to the old address): `reconnectPeriod` after each close, once the answer
 * is in, it reconnects with the same stores, so unacknowledged QoS 1/2 publishes are sent again.
 * MQTT.js's own timer is pushed out of the way (NEVER), not switched off with 0: at 0 MQTT.js forgets
 * subscriptions instead of re-subscribing a clean session after a reconnect, and fails the callbacks
 * of in-flight publishes on a forced close.
 */
/** The longest timer Node accepts (2^31 − 1 ms, 24.8 days): MQTT.js's own reconnect never fires first. */
const NEVER_MS = 2_147_483_647;

export function followRedirects(
  client: MqttClient,
  reresolve?: () => Promise<string | undefined>,
): FollowStats {
  const stats: FollowStats = { redirects: 0, reresolved: 0 };
  const periodMs = client.options.reconnectPeriod ?? 1000;
  if (reresolve) client.options.reconnectPeriod = NEVER_MS;
  let referred = false;
  let pending = false;
  // end() ran: never reconnect again. (With reconnectPeriod 0 MQTT.js clears `disconnecting` once it
  // has ended, so that flag alone let a reconnect scheduled just before end() revive the client.)
  let ended = false;
  client.once('end', () => {
    ended = true;
  });
  const moveTo = (host: string, port: number) => {
    client.options.host = host;
    client.options.hostname = host;
    client.options.port = port;
  };
  client.on('disconnect', (packet: IDisconnectPacket) => {
    // Several references may be given, separated by spaces: the first is the server's choice.
    const ref = packet.properties?.serverReference?.split(' ')[0];
    if (!ref) return;
    try {
      const { host, port } = /:\d+$/.test(ref)
        ? parseHostPort(ref, 'serverReference')
        : { host: ref, port: client.options.port ?? 1883 };
      moveTo(host, port);
      referred = true;
      stats.redirects += 1;
    } catch {
      // Not host:port: the client re-resolves as after a plain close.
    }
  });
  client.on('close', () => {
    const wasReferred = referred;
    referred = false;
    if (!reresolve || pending || ended || client.disconnecting || periodMs <= 0) return;
    pending = true;
    const lookup = wasReferred
      ? Promise.resolve()
      : reresolve()
          .then((host) => {
            if (host === undefined) return;
            moveTo(host, client.options.port ?? 1883);
            stats.reresolved += 1;
          })
          .catch(() => undefined); // no answer: the next attempt goes to the address it had
    const wait = new Promise((resolve) => setTimeout(resolve, periodMs));
    void Promise.all([lookup, wait]).then(() => {
      pending = false;
      if (ended || client.connected || client.disconnecting || client.disconnected) return;
      client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore });
    });
  });
  return stats;
}
