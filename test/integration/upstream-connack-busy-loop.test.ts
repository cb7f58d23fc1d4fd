// test-lanes: shared
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it, type TestContext } from 'node:test';
import { TimeoutError } from '../../common/errors.ts';
import { Upstream } from '../../orchestrator/session/upstream.ts';
import { busyWait } from '../helpers/resources.ts';

// A busy event loop runs due timers before it reads its sockets. In a connection storm (4,500 clients,
// bench:orchestrator's connection-scale run beside six CPU-bound loops) ~8,000 of the orchestrator's
// links "timed out" at CONNACK although the CONNACK had arrived: none once the timeout looked at what
// was read first (docs/data-plane.md "Publishers that lack a broker").

/** A peer in another process: answers each CONNECT with a CONNACK `delayMs` later, or never. */
async function connackPeer(t: TestContext, delayMs: number | 'never'): Promise<number> {
  const script = `
    const net = require('node:net');
    const server = net.createServer((s) => {
      s.once('data', () => {
        if (${JSON.stringify(delayMs)} === 'never') return;
        setTimeout(() => s.write(Buffer.from([0x20, 0x02, 0x00, 0x00])), ${delayMs === 'never' ? 0 : delayMs});
      });
      s.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    child.kill('SIGKILL');
  });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  return Number(line);
}

function upstream(port: number, connectTimeoutMs: number): Upstream {
  return new Upstream({
    brokerId: `peer:${port}`,
    host: '127.0.0.1',
    port,
    protocolVersion: 4,
    connect: { clientId: 'busy-loop', clean: true },
    keepaliveSeconds: 0,
    connectTimeoutMs,
    maxPacketBytes: 1024 * 1024,
    defaultReceiveMaximum: 20,
  });
}

describe('the upstream CONNACK timeout on a blocked event loop', () => {
  it('a CONNACK that arrived while the loop was blocked past the timeout is read, not taken for a timeout', async (t) => {
    const port = await connackPeer(t, 100);
    const link = upstream(port, 300);
    const opened = link.open();
    // The CONNECT is written within a few ms; the CONNACK comes 100 ms later while the loop is blocked
    // until 650 ms, past the 300 ms timeout.
    // Blocked in the check phase (as by a burst of work there): the next turn runs the due timer first.
    await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setImmediate(r));
    busyWait(600);
    const connack = await opened;
    assert.equal(connack.returnCode, 0);
    assert.equal(link.isUp, true);
    link.drop();
  });

  it('a peer that never answers still times out', async (t) => {
    const port = await connackPeer(t, 'never');
    const started = performance.now();
    await assert.rejects(upstream(port, 300).open(), TimeoutError);
    assert.ok(performance.now() - started >= 290);
  });
});
