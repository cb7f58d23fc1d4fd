// test-lanes: shared
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { silentLogger } from '../../common/logger.ts';
import { MAX_PROBES_IN_FLIGHT, RecordProbes } from '../../orchestrator/registry/record-probes.ts';
import { registryTopic } from '../../orchestrator/registry/reserved.ts';
import { Upstream } from '../../orchestrator/session/upstream.ts';
import { poolBrokerOf, TestMosquitto } from '../helpers/mosquitto.ts';
import { connectClient } from '../helpers/resources.ts';

// Registry probes (orchestrator/registry/record-probes.ts) against a real Mosquitto: whether a broker
// holds a record of a client, many clients in flight at once on one connection.

const poolBroker = poolBrokerOf;

function probes(t: TestContext, timeoutMs = 5000): RecordProbes {
  const p = new RecordProbes(
    (broker, clientId) =>
      new Upstream({
        brokerId: broker.id,
        host: broker.host,
        port: broker.port,
        tls: undefined,
        protocolVersion: 4,
        connect: { clientId, clean: true },
        keepaliveSeconds: 30,
        connectTimeoutMs: timeoutMs,
        maxPacketBytes: 1 << 20,
        defaultReceiveMaximum: 100,
      }),
    `probe-test-${process.pid}`,
    timeoutMs,
    silentLogger(),
  );
  t.after(() => p.close());
  return p;
}

describe('registry probes', () => {
  it('tell a record (live or tombstone) from none, 300 clients in flight at once on one connection', async (t) => {
    const m = await TestMosquitto.start(t);
    const broker = poolBroker(m);
    const p = probes(t);
    const writer = await connectClient(t, m.url, { clientId: 'probe-writer' });
    const ids = Array.from({ length: 300 }, (_, i) => `probe-c${i}`);
    // Every third client has a live record, every seventh a tombstone (any non-empty payload counts).
    const held = (i: number) => i % 3 === 0 || i % 7 === 0;
    for (const [i, id] of ids.entries()) {
      if (i % 3 === 0) await writer.publishAsync(registryTopic(id), '{"v":1}', { qos: 1, retain: true });
      else if (i % 7 === 0)
        await writer.publishAsync(registryTopic(id), '{"v":1,"ended":true}', { qos: 1, retain: true });
    }
    const answers = await Promise.all(ids.map((id) => p.probe(broker, registryTopic(id))));
    assert.deepEqual(
      answers.map((a, i) => [ids[i], a]),
      ids.map((id, i) => [id, held(i) ? 'held' : 'none']),
    );
    // An empty retained message removes the record: none again.
    await writer.publishAsync(registryTopic('probe-c0'), '', { qos: 1, retain: true });
    assert.equal(await p.probe(broker, registryTopic('probe-c0')), 'none');
    assert.equal(await p.noneHeld(registryTopic('probe-c1'), [broker, broker]), true);
    assert.equal(await p.noneHeld(registryTopic('probe-c3'), [broker]), false);
  });

  it('a stopped broker answers unknown once the probe times out; the next probe opens a new connection', async (t) => {
    const m = await TestMosquitto.start(t);
    t.after(() => m.child?.kill('SIGCONT'));
    const broker = poolBroker(m);
    const p = probes(t, 500);
    assert.equal(await p.probe(broker, registryTopic('stopped-1')), 'none', 'answers while running');
    m.child?.kill('SIGSTOP');
    const started = Date.now();
    const during = await Promise.all([1, 2, 3].map((i) => p.probe(broker, registryTopic(`stopped-${i}`))));
    assert.deepEqual(during, ['unknown', 'unknown', 'unknown']);
    assert.ok(Date.now() - started < 3000, 'bounded by the timeout');
    m.child?.kill('SIGCONT');
    assert.equal(await p.probe(broker, registryTopic('stopped-1')), 'none', 'answers again');
  });

  it('a broker whose ACL hides the records from the probe connection answers unknown, not none (the canary is not read back)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'brokel-acl-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // Mosquitto started as root reads it as its own user.
    chmodSync(dir, 0o755);
    const acl = join(dir, 'acl');
    // `#` does not match topics that start with `$`: $brokel/ is denied, everything else allowed.
    writeFileSync(acl, 'topic readwrite #\n', { mode: 0o644 });
    const m = await TestMosquitto.start(t, [`acl_file ${acl}`]);
    const p = probes(t);
    assert.equal(await p.probe(poolBroker(m), registryTopic('acl-1')), 'unknown');
  });

  it(`beyond ${MAX_PROBES_IN_FLIGHT} in flight a probe answers unknown at once; a closed prober answers what is in flight`, async (t) => {
    const m = await TestMosquitto.start(t);
    t.after(() => m.child?.kill('SIGCONT'));
    const broker = poolBroker(m);
    const p = probes(t, 60_000);
    assert.equal(await p.probe(broker, registryTopic('cap-0')), 'none'); // the connection is open
    m.child?.kill('SIGSTOP');
    const inFlight = Array.from({ length: MAX_PROBES_IN_FLIGHT }, (_, i) =>
      p.probe(broker, registryTopic(`cap-${i}`)),
    );
    assert.equal(await p.probe(broker, registryTopic('cap-over')), 'unknown');
    p.close();
    const answers = await Promise.all(inFlight);
    m.child?.kill('SIGCONT');
    assert.ok(
      answers.every((a) => a === 'unknown'),
      'every probe in flight answered unknown',
    );
  });
});
