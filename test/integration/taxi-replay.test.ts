import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import DNS from 'dns2';
import { generateTrace } from '../../workload/taxi-rome/generator.ts';
import { runPublishers } from '../../workload/taxi-rome/publisher.ts';
import { splitShares } from '../../workload/taxi-rome/shares.ts';
import { Subscribers } from '../../workload/taxi-rome/subscriber.ts';
import { resolveA, resolveTarget } from '../../workload/taxi-rome/target.ts';
import { startProvider, waitFor } from '../helpers/resources.ts';

const BIN = fileURLToPath(new URL('../../bin/brokel.js', import.meta.url));
const SAMPLE = fileURLToPath(new URL('../../workload/taxi-rome/sample/taxi-sample-10k.txt', import.meta.url));

/** A tiny dns2 UDP server on port 0 answering `name` with `addresses` (real UDP, like the geo-dns). */
async function dnsServer(t: import('node:test').TestContext, name: string, addresses: string[]) {
  const queries: string[] = [];
  const server = DNS.createUDPServer((request, send) => {
    const response = DNS.Packet.createResponseFromRequest(request);
    const question = request.questions[0];
    queries.push(question?.name ?? '');
    if (question?.name === name && question.type === DNS.Packet.TYPE.A)
      for (const address of addresses)
        response.answers.push({
          name,
          type: DNS.Packet.TYPE.A,
          class: DNS.Packet.CLASS.IN,
          ttl: 5,
          address,
        } as unknown as DNS.Packet.Resource); // dns2 encodes a plain record; its types want a class instance
    send(response);
  });
  await server.listen(0, '127.0.0.1');
  t.after(() => server.close());
  const { port } = server.address() as { port: number };
  return { server: `127.0.0.1:${port}`, queries };
}

/** The pretty-printed JSON summary a command prints last (after its JSON log lines). */
function lastJson(out: string): Record<string, unknown> {
  return JSON.parse(out.slice(out.lastIndexOf('\n{\n') + 1));
}

describe('resolveA against a DNS server that does not answer', () => {
  it('rejects naming the server after its timeout and keeps no socket open past it', async (t) => {
    const silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    t.after(() => silent.close());
    let queries = 0;
    silent.on('message', () => queries++);
    const udpSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
    const before = udpSockets();
    const server = `127.0.0.1:${(silent.address() as { port: number }).port}`;
    const started = Date.now();
    await assert.rejects(resolveA(server, 'mqtt.brokel.test', 300), (err: Error) => {
      assert.match(err.message, new RegExp(`DNS ${server}: no answer for mqtt.brokel.test in 300 ms`));
      return true;
    });
    assert.ok(Date.now() - started < 2000, `rejected after ${Date.now() - started} ms`);
    assert.equal(queries, 1);
    // dns2's own client socket closes with the same timeout (it stayed open 10 s, keeping a test's process alive).
    await waitFor(() => udpSockets() === before, 1000, "the query's UDP socket closed");
  });
});

describe('taxi publish/subscribe against a real Mosquitto', () => {
  it('resolves the name through a DNS server (UDP) and replays 3000 fixes with zero QoS 1 loss', async (t) => {
    const provider = await startProvider(t);
    const broker = await provider.create('broker', 'mosquitto');
    const ready = await provider.waitReady(broker.id, 30_000);
    const dns = await dnsServer(t, 'mqtt.brokel.test', [ready.host]);
    await assert.rejects(resolveA(dns.server, 'other.brokel.test', 2000), /no A record/);
    const urls = await resolveTarget({ dns: dns.server, name: 'mqtt.brokel.test', port: ready.port });
    assert.deepEqual(urls, [`mqtt://${ready.host}:${ready.port}`]);
    assert.ok(dns.queries.includes('mqtt.brokel.test'));

    const records = [...generateTrace({ records: 3000, taxis: 60, seed: 4 })];
    const subs = await Subscribers.start(splitShares(records, 3), { urls, qos: 1 });
    t.after(() => subs.close());
    assert.equal(subs.expected, 3000);
    const result = await runPublishers(splitShares(records, 4), { urls, qos: 1, pacing: { kind: 'max' } });
    assert.deepEqual(
      { sent: result.sent, acked: result.acked, failed: result.failed },
      { sent: 3000, acked: 3000, failed: 0 },
    );
    assert.ok(await subs.waitComplete({ timeoutMs: 20_000, idleMs: 5000 }), 'every message arrived');
    const s = subs.summary();
    assert.deepEqual(
      { received: s.received, lost: s.lost, duplicates: s.duplicates, unexpected: s.unexpected },
      {
        received: 3000,
        lost: 0,
        duplicates: 0,
        unexpected: 0,
      },
    );
    assert.equal(s.reordered, 0, 'one publisher per taxi, one broker: per-topic order holds');
    assert.ok(s.latencyMs.p50 !== null && s.latencyMs.p50 > 0 && s.latencyMs.p50 < 5000);
  });

  it('publishers that rebalance reconnect to the address they are given, losing nothing', async (t) => {
    const provider = await startProvider(t);
    const broker = await provider.waitReady((await provider.create('broker', 'mosquitto')).id, 30_000);
    // A new spelling of the same broker at every rebalance (the path is ignored over TCP), so each one reconnects.
    let asked = 0;
    const records = [...generateTrace({ records: 2000, taxis: 40, seed: 8 })];
    const subs = await Subscribers.start(splitShares(records, 2), { urls: [broker.url], qos: 1 });
    t.after(() => subs.close());
    const result = await runPublishers(splitShares(records, 2), {
      urls: [broker.url],
      qos: 1,
      pacing: { kind: 'rate', perSecond: 2000 },
      rebalance: { everyMs: 200, urls: async () => [`${broker.url}/${++asked}`] },
    });
    const reconnects = result.publishers.reduce((a, p) => a + p.reconnects, 0);
    assert.ok(reconnects >= 4, `reconnected ${reconnects} times`);
    assert.equal(result.acked, 2000);
    assert.ok(await subs.waitComplete({ timeoutMs: 20_000, idleMs: 5000 }));
    const s = subs.summary();
    assert.deepEqual([s.received, s.lost, s.duplicates, s.reordered], [2000, 0, 0, 0]);
  });

  it('`brokel taxi publish --processes` and `taxi subscribe` as commands: the rate holds, nothing lost', async (t) => {
    const provider = await startProvider(t);
    const broker = await provider.waitReady((await provider.create('broker', 'mosquitto')).id, 30_000);
    const common = ['--file', SAMPLE, '--records', '600', '--url', broker.url, '--qos', '1'];
    const run = (args: string[]) => {
      const child = spawn(process.execPath, [BIN, 'taxi', ...args, ...common], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, BROKEL_LOG_LEVEL: 'info' },
      });
      t.after(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const exited = once(child, 'exit');
      return {
        child,
        stdout: () => out,
        output: async () => ({ code: (await exited)[0] as number, out, err }),
      };
    };
    const sub = run(['subscribe', '--subscribers', '2', '--idle-seconds', '5', '--timeout-seconds', '60']);
    // The subscriber logs once it is subscribed (SUBACKs in); publish only then.
    await waitFor(() => /subscribed/.test(sub.stdout()), 20_000, 'the subscriber to subscribe');
    const pub = await run(['publish', '--publishers', '2', '--processes', '--rate', '400']).output();
    assert.equal(pub.code, 0, pub.err);
    const published = lastJson(pub.out) as { acked: number; seconds: number };
    assert.equal(published.acked, 600);
    assert.ok(published.seconds > 1.2 && published.seconds < 6, `600 at 400/s took ${published.seconds} s`);
    const received = await sub.output();
    assert.equal(received.code, 0, received.err);
    const summary = lastJson(received.out);
    assert.equal(summary.complete, true);
    assert.equal(summary.received, 600);
    assert.equal(summary.lost, 0);
  });
});
