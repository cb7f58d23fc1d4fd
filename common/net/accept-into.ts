import { type OnReadOpts, type Server, Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

/** What a listening net.Server keeps of its libuv handle (Node's net.js; not public API). */
interface ListenHandle {
  onconnection: (this: ListenHandle, err: number, clientHandle: unknown) => void;
}
type ServerInternals = Server & { _handle?: ListenHandle | null; _connections: number };
type SocketInternals = Socket & { server: Server; _server: Server };

/**
 * Makes a listening plain-TCP server accept its connections as sockets that read into `onread`'s buffer
 * (net.connect's `onread`, which net.Server does not offer): Node then makes no Buffer, ArrayBuffer,
 * Readable push or `data` event per read. It replaces the handle's `onconnection` with Node 20's own
 * (net.js) less `maxConnections` (not used here) and with the `onread` option; the socket counts in
 * the server's connections (`getConnections`, `close`) as Node's do. Call it once 'listening' was
 * emitted (no connection is accepted before that). Returns false, changing nothing, for a TLS server
 * (its raw sockets feed the TLS layer) and where the server has no such handle (not listening, or
 * another Node). A socket reading into a buffer reads nothing while paused: it sees its peer's FIN
 * only once resumed (FramedStream.end() resumes for that).
 */
export function acceptInto(server: Server, onread: OnReadOpts): boolean {
  if (server instanceof TlsServer) return false;
  const internals = server as ServerInternals;
  const handle = internals._handle;
  if (!handle || typeof handle.onconnection !== 'function' || typeof internals._connections !== 'number')
    return false;
  const nodeOwn = handle.onconnection;
  handle.onconnection = function onconnection(err, clientHandle) {
    if (err || !clientHandle || server.maxConnections) return nodeOwn.call(this, err, clientHandle);
    const options = { handle: clientHandle, readable: true, writable: true, onread };
    const socket = new Socket(options as ConstructorParameters<typeof Socket>[0]) as SocketInternals;
    internals._connections += 1;
    socket.server = server;
    socket._server = server;
    server.emit('connection', socket);
  };
  return true;
}
