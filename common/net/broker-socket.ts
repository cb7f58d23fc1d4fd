import { connect as netConnect, type OnReadOpts, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** How the orchestrator and its probes reach `mqtts://` brokers: TLS, verified against this CA. */
export interface BrokerTls {
  /** PEM of the CA that signed the brokers' certificates (only it is trusted, not the system's). */
  ca: Buffer;
}

/**
 * A connection to a broker: plain TCP, or TLS when `tls` is given. TLS verifies the broker's
 * certificate chain against `tls.ca` and its name (an IP address against the certificate's IP
 * subjectAltName, RFC 6125 / RFC 5280 §4.2.1.6); a failure is an 'error' before 'ready'. TCP_NODELAY
 * either way. `ready` is the event after which the broker can be written to. `onread` (plain TCP only:
 * a TLS socket reads through its own stream) reads into the caller's buffer instead of emitting 'data'.
 */
export function connectBroker(
  host: string,
  port: number,
  tls: BrokerTls | undefined,
  onread?: OnReadOpts,
): { socket: Socket; ready: 'connect' | 'secureConnect' } {
  if (!tls) {
    const options = { host, port, noDelay: true };
    return { socket: netConnect(onread ? { ...options, onread } : options), ready: 'connect' };
  }
  const socket = tlsConnect({ host, port, ca: tls.ca, rejectUnauthorized: true });
  socket.setNoDelay(true);
  return { socket, ready: 'secureConnect' };
}
