/**
 * A connection storm from its own process (so the test's event loop, which measures live latency, is
 * not the one opening thousands of sockets): `node --import tsx test/helpers/storm-clients.ts PORT N`
 * opens N raw MQTT clients at once, half v5 and half 3.1.1 (keepalive 120 s: they sit), reads each
 * CONNACK's code from its bytes, prints one JSON line {acks: [[ms since start, code]], failed} once
 * every client has an answer, and keeps the sockets open until stdin closes.
 */
import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

const port = Number(process.argv[2]);
const n = Number(process.argv[3]);
const started = performance.now();
const acks: Array<[number, number]> = [];
let failed = 0;
let settled = 0;
const sockets: Socket[] = [];

const settle = () => {
  settled += 1;
  if (settled === n) process.stdout.write(`${JSON.stringify({ acks, failed })}\n`);
};

for (let i = 0; i < n; i++) {
  const version = i % 2 === 0 ? 5 : 4;
  const socket = netConnect({ host: '127.0.0.1', port });
  sockets.push(socket);
  let seen = false;
  socket.on('error', () => {});
  socket.once('connect', () =>
    socket.write(
      mqttPacket.generate(
        {
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: version,
          clientId: `storm-${i}`,
          clean: true,
          keepalive: 120,
        },
        { protocolVersion: version },
      ),
    ),
  );
  socket.on('data', (chunk: Buffer) => {
    if (seen) return;
    seen = true;
    // CONNACK: 0x20, remaining length, flags, code (3.1.1 return code / 5.0 reason code).
    acks.push([Math.round(performance.now() - started), chunk[0] === 0x20 ? (chunk[3] ?? -1) : -1]);
    settle();
  });
  socket.once('close', () => {
    if (seen) return;
    seen = true;
    failed += 1;
    settle();
  });
}

process.stdin.resume();
process.stdin.on('end', () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
});
