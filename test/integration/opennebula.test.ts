// test-timeout-ms: 600000
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import { request } from 'undici';
import { ProviderError } from '../../common/errors.ts';
import { loadUntil, qos1Probe } from '../helpers/load.ts';
import {
  CLOUD_TOKEN,
  defer,
  startCloud,
  startManagerOn,
  startOpenNebula,
} from '../helpers/remote-provider.ts';
import { connectClient, waitFor } from '../helpers/resources.ts';

/** A plain HTTP server answering every request with `handler`, closed at teardown; counts requests. */
async function fakeCloud(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(
    t,
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${err}`);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('opennebula provider against brokel cloud serve (real HTTP, real Mosquitto)', () => {
  it('creates, lists, reads CPU, drains and deletes a broker VM; a second delete is a no-op', async (t) => {
    const { url, local } = await startCloud(t);
    const provider = await startOpenNebula(t, url);
    const created = await provider.create('broker', 'mosquitto', { cpuQuota: 0.2 });
    assert.equal(created.state, 'booting');
    assert.match(created.url, /^mqtt:\/\/127\.\d+\.\d+\.\d+:1883$/);
    const ready = await provider.waitReady(created.id, 20_000);
    assert.equal(ready.state, 'ready');
    assert.equal(ready.cpuQuota, 0.2);
    // The VM is a real broker: an MQTT client connects to the address the API gave.
    await connectClient(t, ready.url);
    assert.deepEqual(
      (await provider.list()).map((r) => [r.id, r.state]),
      [[created.id, 'ready']],
    );
    // Another deployment's VMs are not listed (label selector).
    await local.create('broker', 'mosquitto');
    assert.equal((await provider.list()).length, 1);
    await new Promise((r) => setTimeout(r, 300));
    const cpu = (await provider.cpu([created.id, 'no-such-vm'])).get(created.id);
    assert.ok(typeof cpu === 'number' && cpu >= 0 && cpu < 1, `cpu ${cpu}`);
    assert.equal((await provider.cpu(['no-such-vm'])).get('no-such-vm'), undefined);
    await provider.markDraining(created.id);
    assert.equal((await provider.list())[0]?.state, 'draining');
    await provider.destroy(created.id);
    assert.equal(
      (await local.list()).some((r) => r.id === created.id),
      false,
      'the local replica is gone',
    );
    await provider.destroy(created.id); // idempotent: 404 is success
    assert.deepEqual(await provider.list(), []);
  });

  it('refuses a bad template with a 400 naming the field, without retrying', async (t) => {
    const { url } = await startCloud(t);
    const provider = await startOpenNebula(t, url);
    // Bypass the client-side check to see the server's answer.
    const response = await request(`${url}/vms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLOUD_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ template: 'nope', level: 'broker' }),
    });
    assert.equal(response.statusCode, 400);
    assert.match(((await response.body.json()) as { error: string }).error, /unknown template "nope"/);
    await assert.rejects(provider.create('broker', 'nope'), /template: unknown template "nope"/);
  });

  it('a wrong token is a clear 401 error naming the method and path, not retried', async (t) => {
    const { url } = await startCloud(t);
    const err = await rejection(startOpenNebula(t, url, { token: 'wrong-token-wrong-token' }));
    assert.equal(err.code, 'http_401');
    assert.equal(err.retryable, false);
    assert.match(err.message, /^opennebula: GET \/vms\?label=brokel\.io%2Fdeployment%3D\S+ → 401: /);
    assert.match(err.message, /missing or wrong bearer token/);
    assert.doesNotMatch(err.message, /attempts/);
  });

  it('a server answering 500 is retried with backoff, then a clear error with the body excerpt', async (t) => {
    const cloud = await fakeCloud(t, (_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'database on fire' }));
    });
    const started = Date.now();
    const err = await rejection(startOpenNebula(t, cloud.url, { retries: 3, retryBaseMs: 40 }));
    const elapsed = Date.now() - started;
    assert.equal(cloud.seen.length, 4, 'one attempt and three retries');
    assert.equal(err.code, 'http_500');
    assert.equal(err.retryable, true);
    assert.match(err.message, /GET \/vms\?label=\S+ → 500: \{"error":"database on fire"\} \(4 attempts\)$/);
    // Equal-jitter backoff: at least half of 40 + 80 + 160 ms.
    assert.ok(elapsed >= 140, `retried with backoff (${elapsed} ms)`);
  });

  it('a server that never answers is a timeout error after the retries', async (t) => {
    const cloud = await fakeCloud(t, () => undefined); // reads the request, never answers
    const started = Date.now();
    const err = await rejection(
      startOpenNebula(t, cloud.url, { timeoutMs: 200, retries: 1, retryBaseMs: 10 }),
    );
    const elapsed = Date.now() - started;
    assert.equal(err.code, 'timeout');
    assert.match(err.message, /GET \/vms\?label=\S+ → no answer within 200 ms \(2 attempts\)$/);
    assert.equal(cloud.seen.length, 2);
    assert.ok(elapsed >= 400 && elapsed < 3000, `two 200 ms timeouts (${elapsed} ms)`);
  });

  it('a POST that gets no answer is not retried (it may have created the VM)', async (t) => {
    const cloud = await fakeCloud(t, (req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"vms":[]}');
      } // POST: never answered
    });
    const provider = await startOpenNebula(t, cloud.url, { timeoutMs: 200, retries: 2 });
    const err = await rejection(provider.create('broker', 'mosquitto'));
    assert.equal(err.code, 'timeout');
    assert.match(err.message, /POST \/vms → no answer within 200 ms \(1 attempt\)$/);
    assert.equal(cloud.seen.filter((s) => s.startsWith('POST')).length, 1);
  });
});

describe('manager over the opennebula provider and brokel cloud serve', () => {
  it('scales brokers out under load and back in, with zero QoS 1 loss', async (t) => {
    const { url } = await startCloud(t);
    const provider = await startOpenNebula(t, url, { pollIntervalMs: 100 });
    const bootStarted = Date.now();
    const { manager, decisionLog } = await startManagerOn(t, provider, {
      monitor: { intervalSeconds: 0.5, warmupObservations: 2 },
      levels: {
        brokers: { lower: 0.25, upper: 0.6, min: 1, max: 2, cpuQuota: 0.1 },
        orchestrators: { min: 1, max: 1 },
      },
      manager: { drainQuietSeconds: 0.5 },
    });
    t.diagnostic(`1 broker + 1 orchestrator up over the REST API in ${Date.now() - bootStarted} ms`);
    const activeBrokers = async () =>
      (await manager.status()).levels[0]?.replicas.filter((r) => r.poolState === 'active').length ?? 0;
    assert.equal(await activeBrokers(), 1);
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    if (!orchestrator) throw new Error('no orchestrator');
    assert.ok(orchestrator.ports.admin, 'the VM reports the admin port');
    const probe = await qos1Probe(t, orchestrator.url, 'probe/#', ['probe/1', 'probe/2'], 20, 50);
    // Bounded load: QoS 0 through the orchestrator, at most 60 s, until a second broker is active.
    const load = await loadUntil(t, orchestrator.url, 'load', async () => (await activeBrokers()) >= 2);
    const scaledOut = load.reached;
    const outMs = load.ms;
    assert.ok(scaledOut, 'scaled out to 2 brokers');
    const inStarted = Date.now();
    await waitFor(
      async () => (await provider.list()).filter((r) => r.level === 'broker').length === 1,
      60_000,
      'scale in to 1',
    );
    const inMs = Date.now() - inStarted;
    const { sent: probeSent } = await probe.stop();
    t.diagnostic(
      `scale-out: second broker active ${(outMs / 1000).toFixed(1)} s after the load started; ` +
        `scale-in: back to 1 broker ${(inMs / 1000).toFixed(1)} s after the load stopped; ` +
        `QoS 1 probe ${probe.counts.distinct}/${probeSent}, ${probe.counts.duplicates} duplicates`,
    );
    assert.equal(probe.counts.distinct, probeSent, `QoS 1 loss: ${probeSent - probe.counts.distinct}`);
    await decisionLog.flush();
    const lines = (await readFile(decisionLog.file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.level === 'broker' && l.action === 'add' && l.outcome === 'done'));
    assert.ok(
      lines.some((l) => l.level === 'broker' && l.action?.startsWith('remove') && l.outcome === 'done'),
    );
  });
});
