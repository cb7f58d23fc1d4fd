// The least a Node.js process in the middle can do (bench/node-floor.ts): every client connection is
// piped to the broker over a connection of its own, bytes unread, like HAProxy's `mode tcp`, with the
// socket handling the orchestrator uses (orchestrator/protocol/framed-stream.ts): both sides read
// into one shared buffer (net.connect's `onread`; common/net/accept-into.ts for accepted sockets) and
// each read leaves in one write of a copy. No MQTT, no routing, no metrics.
//
// Run as a child, compiled (`node out/bench/lib/node-relay.js BROKER_HOST BROKER_PORT`: scripts/build.sh
// compiles it, as it does the orchestrator, and node-floor.ts runs it so); it prints
// `node-relay: listening on 127.0.0.1:PORT` once it accepts, and ends on SIGTERM. Like the orchestrator,
// a side whose peer's write buffer is full stops reading until the peer drains.
import { connect, createServer, type Socket } from 'node:net';
import { acceptInto } from '../../common/net/accept-into.ts';

const [brokerHost = '127.0.0.1', brokerPortText = '1883'] = process.argv.slice(2);
const brokerPort = Number(brokerPortText);
if (!Number.isInteger(brokerPort) || brokerPort <= 0 || brokerPort > 65_535)
  throw new Error(`node-relay: ${brokerPortText} is not a port`);

const shared = Buffer.allocUnsafeSlow(64 * 1024);
const PEER = Symbol('peer');
type Piped = Socket & { [PEER]?: Socket };

/** A read of `nread` bytes into `shared` on socket `this`: its copy goes to the peer in one write. */
function relay(this: Piped, nread: number): boolean {
  const peer = this[PEER];
  if (peer && !peer.destroyed) {
    const copy = Buffer.allocUnsafe(nread);
    shared.copy(copy, 0, 0, nread);
    if (!peer.write(copy)) {
      this.pause();
      peer.once('drain', () => this.resume());
    }
  }
  return true;
}

function pair(client: Piped, upstream: Piped): void {
  client[PEER] = upstream;
  upstream[PEER] = client;
  for (const s of [client, upstream]) {
    s.setNoDelay(true);
    s.on('error', () => {
      client.destroy();
      upstream.destroy();
    });
    s.on('close', () => {
      client.destroy();
      upstream.destroy();
    });
  }
}

const server = createServer({ noDelay: true }, (client: Piped) => {
  client.pause(); // nothing is read until the upstream side is connected
  const upstream: Piped = connect({
    host: brokerHost,
    port: brokerPort,
    onread: { buffer: shared, callback: relay },
  });
  pair(client, upstream);
  upstream.once('connect', () => client.resume());
});
server.listen({ host: '127.0.0.1', port: 0 }, () => {
  if (!acceptInto(server, { buffer: shared, callback: relay }))
    throw new Error('node-relay: this Node does not let accepted sockets read into a buffer');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  console.log(`node-relay: listening on 127.0.0.1:${port}`);
});
process.once('SIGTERM', () => process.exit(0));
