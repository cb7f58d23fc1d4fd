// test-lanes: 2
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { it } from 'node:test';
import { silentLogger } from '../../common/logger.ts';
import { BrokerPool } from '../../orchestrator/pool/broker-pool.ts';
import { startFaultRelay } from '../helpers/fault-relay.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';

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

it('sessions asking at once share one probe: a slow broker gets one CONNECT, not one per session', async (t) => {
  const broker = await TestMosquitto.start(t);
  const relay = await startFaultRelay(t, { host: '127.0.0.1', port: broker.port });
  relay.setDelay(300); // each probe stays open ~0.6 s: concurrent ones would overlap
  const pool = new BrokerPool(silentLogger());
  const [id] = pool.apply([{ url: `mqtt://127.0.0.1:${relay.port}`, state: 'active' }]).added;
  let most = 0;
  const watch = setInterval(() => {
    most = Math.max(most, relay.connections);
  }, 5);
  t.after(() => clearInterval(watch));
  const versions = await Promise.all(Array.from({ length: 40 }, () => pool.protocolVersion(id ?? '')));
  clearInterval(watch);
  assert.deepEqual(new Set(versions), new Set([5]), 'Mosquitto 2 speaks MQTT 5');
  assert.equal(most, 1, `40 callers at once: at most ${most} probe connections open at a time`);
});
