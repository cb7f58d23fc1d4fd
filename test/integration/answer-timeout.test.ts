// test-lanes: shared
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { AnswerTimeout } from '../../common/net/answer-timeout.ts';
import { busyWait } from '../helpers/resources.ts';

/** A connected loopback pair: `server` writes, `client` reads. */
async function pair(t: TestContext): Promise<{ server: Socket; client: Socket }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = netConnect({ host: '127.0.0.1', port });
  await once(client, 'connect');
  const [peer] = await accepted;
  t.after(() => {
    client.destroy();
    peer.destroy();
    server.close();
  });
  return { server: peer, client };
}

/** What happened first: the answer's read or the timeout, when both are due after a blocked loop. */
async function race(t: TestContext, arm: (onTimeout: () => void) => { cancel(): void }): Promise<string[]> {
  const { server, client } = await pair(t);
  const events: string[] = [];
  const timeout = arm(() => events.push('timeout'));
  client.on('data', () => {
    events.push('answer');
    timeout.cancel();
  });
  server.write(Buffer.from([0x20, 0x02, 0x00, 0x00])); // in the client's receive buffer at once (loopback)
  busyWait(150);
  await new Promise((r) => setTimeout(r, 100));
  return events;
}

describe('AnswerTimeout on a blocked event loop', () => {
  it('a plain timer fires before an answer that arrived while the loop was blocked (the premise)', async (t) => {
    const events = await race(t, (onTimeout) => {
      const timer = setTimeout(onTimeout, 50);
      return { cancel: () => clearTimeout(timer) };
    });
    assert.deepEqual(events, ['timeout', 'answer']);
  });

  it('the answer that arrived while the loop was blocked past the timeout is read first, and no timeout fires', async (t) => {
    const events = await race(t, (onTimeout) => new AnswerTimeout(50, onTimeout));
    assert.deepEqual(events, ['answer']);
  });

  it('no answer: it times out once; cancelled: never', async () => {
    let fired = 0;
    new AnswerTimeout(20, () => {
      fired += 1;
    });
    const cancelled = new AnswerTimeout(20, () => {
      fired += 100;
    });
    cancelled.cancel();
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(fired, 1);
  });
});
