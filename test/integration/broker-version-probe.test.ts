// test-lanes: 2
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { it } from 'node:test';
import { silentLogger } from '../../common/logger.ts';
import { BrokerPool } from '../../orchestrator/pool/broker-pool.ts';

it('a broker too slow to answer the MQTT 5 probe once is asked again, not pinned to 3.1.1 (issue 10 defect 4)', async (t) => {
  // A stand-in broker that ignores the first connection and answers every later CONNECT at its level.
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    connections += 1;
    if (connections === 1) return; // never answered: the probe times out
    socket.once('data', (connect: Buffer) => {
      const level = connect[8]; // 0x10, remaining length (1 byte), 00 04 'MQTT', level
      socket.write(Buffer.from(level === 5 ? [0x20, 0x03, 0x00, 0x00, 0x00] : [0x20, 0x02, 0x00, 0x00]));
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const pool = new BrokerPool(silentLogger());
  const { port } = server.address() as { port: number };
  const [id] = pool.apply([{ url: `mqtt://127.0.0.1:${port}`, state: 'active' }]).added;
  assert.equal(await pool.protocolVersion(id ?? ''), 4, 'no answer in time: 3.1.1 for this connection');
  assert.equal(await pool.protocolVersion(id ?? ''), 5, 'asked again: it speaks MQTT 5');
});
