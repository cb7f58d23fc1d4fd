// test-lanes: shared
// bench:orchestrator's connection-scale run (bench/lib/connection-scale.ts), small: a real orchestrator
// over three real Mosquittos, clients from two load-generator processes, 90 % publishing QoS 1 once a
// second and 10 % subscribing. It checks what the run reports, not how much memory it reads: the
// sockets per client (a lazy session has its client and home links until it publishes round-robin), the
// RSS readings (the peak while publishing is at least the reading taken during it), and that every
// acknowledged publish was delivered; with heap snapshots, that the publishing one is taken while the
// publishers' extra links are open (the sockets it holds). Shared lanes: it measures nothing against a
// target, and 60 clients publishing once a second are light.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  connectionScale,
  type ScaleOptions,
  type ScaleResult,
  scaleSummary,
} from '../../bench/lib/connection-scale.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** 60 clients, round-robin, over three fresh Mosquittos, publishing for 3 s; the summary as a diagnostic. */
async function smallRun(
  t: TestContext,
  extra: Pick<ScaleOptions, 'idleSettleMs' | 'heapSnapshotDir'>,
): Promise<ScaleResult> {
  const brokers = await Promise.all([1, 2, 3].map(() => TestMosquitto.start(t)));
  const r = await connectionScale({
    repoRoot,
    brokerUrls: brokers.map((b) => b.url),
    clients: 60,
    workers: 2,
    publishMs: 3000,
    routing: 'round-robin',
    ...extra,
  });
  t.diagnostic(scaleSummary(r));
  return r;
}

describe('bench:orchestrator connection scale, small', () => {
  it('reports sockets, RSS (with its peak while publishing) and no loss for 60 clients over 3 brokers', async (t) => {
    // The bench waits 15 s, for V8's memory reducer: only the reading is checked here.
    const r = await smallRun(t, { idleSettleMs: 4000 });
    assert.ok((r.idleRssSettled?.mb ?? 0) > 10, `idle RSS later: ${r.idleRssSettled?.mb} MB`);
    assert.match(scaleSummary(r), /idle RSS [\d.]+ MB \(.*; [\d.]+ MB 4 s after ready\)/);
    // 6 subscribers link to every broker (4 sockets each), 54 publishers to their home one (2) until
    // they publish round-robin (4): 132 sockets connected, 240 publishing. The orchestrator's
    // registry-probe connection to each broker (orchestrator/registry/record-probes.ts, opened by the
    // first clean CONNECTs) counts too: up to 3 more, whatever the number of clients.
    const extra = (perClient: number, expected: number) => Math.round(perClient * r.clients) - expected;
    const connectedExtra = extra(r.socketsPerClient, 132);
    const publishingExtra = extra(r.socketsPerClientPublishing, 240);
    assert.ok(
      connectedExtra >= 0 && connectedExtra <= 3,
      `${r.socketsPerClient} sockets per client connected`,
    );
    assert.ok(
      publishingExtra >= 0 && publishingExtra <= 3,
      `${r.socketsPerClientPublishing} sockets per client publishing`,
    );
    for (const [name, kb] of Object.entries({
      connected: r.rssPerClientKb,
      publishing: r.rssPerClientKbPublishing,
      peak: r.rssPerClientKbPublishingPeak,
    }))
      assert.ok(Number.isFinite(kb), `RSS per client ${name}: ${kb}`);
    assert.ok(
      r.rssPerClientKbPublishingPeak >= r.rssPerClientKbPublishing,
      `peak ${r.rssPerClientKbPublishingPeak} KB below the reading while publishing ${r.rssPerClientKbPublishing} KB`,
    );
    assert.ok(r.idleRssMb > 10, `idle RSS ${r.idleRssMb} MB`);
    // 54 publishers once a second for 3 s.
    assert.ok(r.sent >= 54, `${r.sent} sent`);
    assert.equal(r.acked, r.sent, 'every publish acknowledged');
    assert.equal(r.received, r.acked, 'every acknowledged publish delivered');
    assert.equal(r.lost, 0);
  });

  it('with heap snapshots: the live JS heap per client connected and half-way through publishing', async (t) => {
    const scratch = mkdtempSync(join(tmpdir(), 'brokel-scale-heap-'));
    t.after(() => rmSync(scratch, { recursive: true, force: true }));
    const dir = join(scratch, 'snapshots'); // not there yet: the run makes it
    const r = await smallRun(t, { heapSnapshotDir: dir });
    assert.equal(
      readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')).length,
      3,
      'idle, connected, publishing',
    );
    assert.ok(r.heap && r.heapPublishing, 'both differences reported');
    assert.equal(r.idleRssSettled, undefined, 'no later idle reading unless asked');
    // The sockets the snapshots hold, per client, over the idle one: 132 connected and 240 publishing
    // (above), plus up to 3 registry probes, the same in both.
    const sockets = (groups: Array<{ group: string; count: number }>) =>
      Math.round((groups.find((g) => g.group === 'Socket')?.count ?? 0) * r.clients);
    const connected = sockets(r.heap.groups);
    const publishing = sockets(r.heapPublishing.groups);
    assert.ok(connected >= 132 && connected <= 135, `${connected} sockets in the connected snapshot`);
    assert.equal(publishing - connected, 240 - 132, `${publishing} sockets in the publishing snapshot`);
    assert.ok(r.heapPublishing.perClientBytes > r.heap.perClientBytes, 'publishing holds more');
    assert.match(scaleSummary(r), /live JS heap connected: .*\n[\s\S]*live JS heap publishing: /);
    assert.equal(r.lost, 0);
  });
});
