import { createServer, type Server, type Socket } from 'node:net';

/** RFC 7766 §6.2.3: the idle time an open connection is kept. */
const IDLE_TIMEOUT_MS = 10_000;

export interface DnsTcpServer {
  server: Server;
  close(): Promise<void>;
}

/**
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766): two-byte length-prefixed messages, pipelined, answered
 * in any order. `onMessage` gets each message and a reply function to call once (undefined: no
 * answer). A bounded number of connections,
 * each closed when idle.
 */
export function dnsTcpServer(
  onMessage: (message: Buffer, reply: (answer: Buffer | undefined) => void, socket: Socket) => void,
  maxConnections: number,
): DnsTcpServer {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    let buffered: Buffer = Buffer.alloc(0);
    let pending = 0;
    let ended = false;
    const reply = (answer: Buffer | undefined) => {
      pending -= 1;
      if (answer && socket.writable) {
        const length = Buffer.alloc(2);
        length.writeUInt16BE(answer.length);
        socket.write(Buffer.concat([length, answer]));
      }
      if (ended && pending === 0) socket.end();
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const size = buffered.readUInt16BE(0);
        if (buffered.length < 2 + size) break;
        const message = buffered.subarray(2, 2 + size);
        buffered = buffered.subarray(2 + size);
        pending += 1;
        onMessage(message, reply, socket);
      }
    });
    socket.on('end', () => {
      ended = true;
      if (pending === 0) socket.end();
    });
  });
  server.maxConnections = maxConnections;
  return {
    server,
    close: () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      return closed;
    },
  };
}
