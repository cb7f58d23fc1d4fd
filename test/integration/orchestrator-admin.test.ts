// test-lanes: shared
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { IDisconnectPacket } from 'mqtt-packet';
import { pino } from 'pino';
import { silentLogger } from '../../common/logger.ts';
import { startAdminServer } from '../../orchestrator/admin/admin-server.ts';
import { type BrokerStatus, Orchestrator, type OrchestratorStatus } from '../../orchestrator/orchestrator.ts';
import type { RoutingStrategyName } from '../../orchestrator/routing/strategies.ts';
import { connectClient, startProvider, waitFor } from '../helpers/resources.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'test-token-0123456789';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: a JSON answer the assertions look into
  json: any;
}

/** One HTTP request on a fresh connection; `body` is sent as is (string/Buffer) or as JSON. */
function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string | undefined; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const { body } = options;
  const payload =
    body === undefined
      ? undefined
      : typeof body === 'string' || Buffer.isBuffer(body)
        ? body
        : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      {
        method,
        agent: false,
        timeout: 10_000,
        headers: {
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function startBroker(provider: Awaited<ReturnType<typeof startProvider>>): Promise<string> {
  return (await provider.waitReady((await provider.create('broker', 'mosquitto')).id, 10_000)).url;
}

/**
 * A real Orchestrator in front of real Mosquitto brokers, with its admin API on real HTTP. Teardown
 * runs in reverse order of creation (node:test runs `t.after` hooks first-in first-out), so it is
 * registered before the provider's.
 */
async function startStack(
  t: TestContext,
  options: { brokers?: number; token?: string; routing?: RoutingStrategyName; log?: pino.Logger } = {},
) {
  const cleanups: Array<() => Promise<void>> = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const provider = await startProvider(t);
  const urls = await Promise.all(Array.from({ length: options.brokers ?? 1 }, () => startBroker(provider)));
  const orchestrator = new Orchestrator({
    routing: options.routing ?? 'round-robin',
    brokers: urls.map((url) => ({ url, state: 'active' as const })),
    log: silentLogger(),
  });
  cleanups.push(async () => {
    // drain first: Orchestrator.close() alone does not return while a client is connected.
    await orchestrator.drain(undefined, 0);
    await orchestrator.close();
  });
  const mqttPort = await orchestrator.listen('127.0.0.1', 0);
  const admin = await startAdminServer({
    orchestrator,
    host: '127.0.0.1',
    port: 0,
    token: options.token,
    log: options.log ?? silentLogger(),
  });
  cleanups.push(() => admin.close());
  const base = `http://127.0.0.1:${admin.port}`;
  return {
    provider,
    urls,
    orchestrator,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    base,
    api: (method: string, path: string, body?: unknown) =>
      call(base, method, path, { token: options.token, body }),
    status: async (): Promise<OrchestratorStatus> => {
      const answer = await call(base, 'GET', '/status', { token: options.token });
      assert.equal(answer.status, 200, answer.text);
      return answer.json as OrchestratorStatus;
    },
  };
}

function brokerOf(status: OrchestratorStatus, url: string): BrokerStatus {
  const broker = status.brokers.find((b) => b.url === url);
  assert.ok(broker, `${url} is not in ${JSON.stringify(status.brokers.map((b) => b.url))}`);
  return broker;
}

describe('orchestrator admin API (real HTTP, real Orchestrator, real Mosquitto)', () => {
  it('answers 401 on every route, /healthz too, without the bearer token or with a wrong one', async (t) => {
    const s = await startStack(t, { token: TOKEN });
    const routes: Array<[string, string]> = [
      ['GET', '/status'],
      ['PUT', '/brokers'],
      ['POST', '/drain'],
      ['GET', '/healthz'],
      ['GET', '/metrics'],
      ['GET', '/nope'],
    ];
    for (const [method, path] of routes) {
      for (const token of [undefined, 'wrong', `${TOKEN}x`, TOKEN.slice(0, -1)]) {
        const answer = await call(s.base, method, path, { token, body: method === 'GET' ? undefined : {} });
        assert.equal(answer.status, 401, `${method} ${path} with token ${token}`);
        assert.deepEqual(answer.json, { error: 'missing or wrong bearer token' });
        assert.match(String(answer.headers['www-authenticate']), /^Bearer/);
      }
    }
    const basic = await call(s.base, 'GET', '/healthz', { headers: { authorization: `Basic ${TOKEN}` } });
    assert.equal(basic.status, 401);
    assert.equal((await s.api('GET', '/healthz')).status, 200);
    assert.equal((await s.status()).draining, false, 'nothing was drained by the refused POST /drain');
  });

  it('GET /status reports sessions and per-broker counters that grow as a client publishes through it', async (t) => {
    const s = await startStack(t, { token: TOKEN });
    const [url] = s.urls;
    assert.ok(url);
    const before = await s.status();
    assert.equal(before.sessions, 0);
    assert.equal(before.draining, false);
    assert.equal(before.routing, 'round-robin');
    assert.deepEqual(
      before.brokers.map((b) => [b.url, b.state, b.published, b.delivered, b.inflight]),
      [[url, 'active', 0, 0, 0]],
    );

    const sub = await connectClient(t, s.mqttUrl, { clientId: 'status-sub' });
    const pub = await connectClient(t, s.mqttUrl, { clientId: 'status-pub', protocolVersion: 5 });
    await sub.subscribeAsync('status/#', { qos: 1 });
    const received: string[] = [];
    sub.on('message', (_topic, payload) => received.push(payload.toString()));
    for (let i = 0; i < 5; i++) await pub.publishAsync(`status/${i}`, `m${i}`, { qos: 1 });
    await waitFor(() => received.length === 5, 5000, 'five deliveries');

    const after = await s.status();
    assert.equal(after.sessions, 2);
    assert.equal(typeof after.cpu, 'number');
    assert.ok(after.cpu >= 0 && Number.isFinite(after.cpu), `cpu ${after.cpu}`);
    const broker = brokerOf(after, url);
    assert.equal(broker.published, 5, 'every QoS 1 publish was acknowledged, so counted');
    assert.equal(broker.delivered, 5);
    assert.equal(broker.sessions, 2);
    assert.equal(broker.synced, true);
    assert.equal(broker.inflight, 0);
    assert.equal(broker.id, new URL(url).host);

    const metrics = await s.api('GET', '/metrics');
    assert.match(
      metrics.text,
      new RegExp(`brokel_orchestrator_published_total\\{broker="${broker.id}"\\} 5`),
    );
  });

  it('PUT /brokers adds a joining broker, which gets the subscriptions (synced), then becomes active and takes publishes', async (t) => {
    const s = await startStack(t, { token: TOKEN });
    const [a] = s.urls;
    assert.ok(a);
    const b = await startBroker(s.provider);
    const sub = await connectClient(t, s.mqttUrl, { clientId: 'join-sub' });
    const pub = await connectClient(t, s.mqttUrl, { clientId: 'join-pub' });
    await sub.subscribeAsync('join/#', { qos: 1 });
    const received: string[] = [];
    sub.on('message', (_topic, payload) => received.push(payload.toString()));

    const joined = await s.api('PUT', '/brokers', {
      brokers: [
        { url: a, state: 'active' },
        { url: b, state: 'joining' },
      ],
    });
    assert.equal(joined.status, 200, joined.text);
    const bId = new URL(b).host;
    assert.deepEqual([joined.json.added, joined.json.removed, joined.json.changed], [[bId], [], []]);
    assert.equal(brokerOf(joined.json.status, b).state, 'joining');

    await waitFor(
      async () => {
        const broker = brokerOf(await s.status(), b);
        // The subscriber; the publisher has not published yet, so it holds its home link only
        // (lazy links, docs/data-plane.md) and lacks nothing on the joining broker.
        return broker.synced && broker.sessions === 1;
      },
      10_000,
      `${b} synced for the subscriber`,
    );
    // Joining: subscriptions replicated, no publishes yet.
    for (let i = 0; i < 2; i++) await pub.publishAsync('join/early', `early${i}`, { qos: 1 });
    assert.equal(brokerOf(await s.status(), b).published, 0, 'a joining broker took a publish');

    const activated = await s.api('PUT', '/brokers', {
      brokers: [
        { url: a, state: 'active' },
        { url: b, state: 'active' },
      ],
    });
    assert.equal(activated.status, 200, activated.text);
    assert.deepEqual([activated.json.added, activated.json.removed, activated.json.changed], [[], [], [bId]]);
    for (let i = 0; i < 6; i++) await pub.publishAsync('join/rr', `rr${i}`, { qos: 1 });
    await waitFor(() => received.length === 8, 5000, 'all eight deliveries');
    const status = await s.status();
    assert.equal(brokerOf(status, b).state, 'active');
    assert.ok(brokerOf(status, b).published > 0, 'round-robin never used the new broker');
    assert.equal(brokerOf(status, a).published + brokerOf(status, b).published, 8);
    // A publish through the new broker reached the subscriber: its subscription was replayed there.
    assert.ok(brokerOf(status, b).delivered > 0);

    const removed = await s.api('PUT', '/brokers', { brokers: [{ url: b, state: 'active' }] });
    assert.equal(removed.status, 200, removed.text);
    assert.deepEqual(removed.json.removed, [new URL(a).host]);
    assert.deepEqual(
      removed.json.status.brokers.map((x: BrokerStatus) => x.url),
      [b],
    );
    await pub.publishAsync('join/after', 'after', { qos: 1 });
    await waitFor(() => received.includes('after'), 5000, 'a delivery after the first broker left');
  });

  it('refuses bad requests with 400/404/405/413 naming what is wrong, logs one line each, and changes nothing', async (t) => {
    const lines: Array<{ level: number; msg: string; status?: number }> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const s = await startStack(t, { token: TOKEN, log });
    const [a] = s.urls;
    assert.ok(a);
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      [
        'PUT',
        '/brokers',
        {
          brokers: [
            { url: a, state: 'active' },
            { url: 'mqtt://127.0.0.1:1', state: 'x' },
          ],
        },
        400,
        /^brokers\[1\]\.state: "x" is not one of "joining", "active", "draining"$/,
      ],
      [
        'PUT',
        '/brokers',
        { brokers: [{ url: 'http://127.0.0.1:1', state: 'active' }] },
        400,
        /^brokers\[0\]\.url: "http:\/\/127\.0\.0\.1:1": only mqtt:\/\/ and mqtts:\/\/ \(TLS\) brokers are supported$/,
      ],
      ['PUT', '/brokers', { brokers: [] }, 400, /^brokers: must name at least one broker$/],
      ['PUT', '/brokers', '{"brokers": [', 400, /^request body is not JSON/],
      ['PUT', '/brokers', undefined, 400, /^request body is required/],
      ['PUT', '/brokers', '"just a string"', 400, /^\(root\): expected object, got "just a string"$/],
      ['POST', '/drain', { graceMs: -5 }, 400, /^graceMs: -5 is below 0$/],
      ['POST', '/drain', { serverReference: 'a b\tc' }, 400, /^serverReference: "a b\\tc" is not a server/],
      ['GET', '/nope', undefined, 404, /^no route \/nope$/],
      ['GET', '/brokers', undefined, 405, /^GET is not allowed on \/brokers \(PUT\)$/],
      ['POST', '/status', { x: 1 }, 405, /^POST is not allowed on \/status \(GET\)$/],
      [
        'PUT',
        '/brokers',
        Buffer.alloc(2 * 1024 * 1024, 0x20),
        413,
        /^request body is larger than 1048576 bytes$/,
      ],
      [
        'PUT',
        '/brokers',
        { brokers: [{ url: a, state: 'active' }], x: Buffer.alloc(1024 * 1024, 0x61).toString() },
        413,
        /larger/,
      ],
    ];
    for (const [method, path, body, code, error] of cases) {
      const before = lines.length;
      const answer = await s.api(method, path, body);
      assert.equal(answer.status, code, `${method} ${path}: ${answer.text}`);
      assert.match(answer.json.error, error);
      if (code === 400 && Array.isArray(answer.json.problems)) assert.ok(answer.json.problems.length > 0);
      if (code === 405) assert.ok(answer.headers.allow);
      const logged = lines.slice(before);
      assert.equal(logged.length, 1, `${method} ${path} logged ${JSON.stringify(logged)}`);
      assert.equal(logged[0]?.level, 40, 'a refused request is one warn line');
    }
    // A body declared over the limit is refused before it is read (the sender stops after 2 bytes).
    const declared = await call(s.base, 'PUT', '/brokers', {
      token: TOKEN,
      body: '{}',
      headers: { 'content-length': String(64 * 1024 * 1024) },
    });
    assert.equal(declared.status, 413);

    const status = await s.status();
    assert.deepEqual(
      status.brokers.map((b) => [b.url, b.state]),
      [[a, 'active']],
      'a refused request changed the pool',
    );
    assert.equal(status.draining, false, 'a refused POST /drain drained');
    const quiet = lines.length;
    assert.equal((await s.api('GET', '/healthz')).status, 200);
    assert.equal((await s.api('GET', '/status')).status, 200);
    assert.equal(lines.length, quiet, 'successful requests log nothing at info');
  });

  it('GET /metrics serves the Prometheus text with brokel_orchestrator_client_sessions', async (t) => {
    const s = await startStack(t, { token: TOKEN });
    await connectClient(t, s.mqttUrl, { clientId: 'metrics-client' });
    const answer = await s.api('GET', '/metrics');
    assert.equal(answer.status, 200);
    assert.match(String(answer.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(answer.text, /^# TYPE brokel_orchestrator_client_sessions gauge$/m);
    assert.match(answer.text, /^brokel_orchestrator_client_sessions 1$/m);
    assert.match(answer.text, /^brokel_orchestrator_connections_total 1$/m);
  });

  it('POST /drain: a v5 client gets DISCONNECT 0x9C with the server reference, a 3.1.1 client is closed after the grace period, /healthz turns 503', async (t) => {
    const s = await startStack(t, { token: TOKEN });
    const healthy = await s.api('GET', '/healthz');
    assert.equal(healthy.status, 200);
    assert.deepEqual(healthy.json, { ok: true, draining: false });

    const v5 = await connectClient(t, s.mqttUrl, { clientId: 'drain-v5', protocolVersion: 5 });
    const v4 = await connectClient(t, s.mqttUrl, { clientId: 'drain-v4', protocolVersion: 4 });
    const disconnect = new Promise<IDisconnectPacket>((resolve) => v5.once('disconnect', resolve));
    const v4Closed = new Promise<number>((resolve) => v4.once('close', () => resolve(Date.now())));

    const graceMs = 400;
    const started = Date.now();
    const answer = await s.api('POST', '/drain', {
      serverReference: 'orchestrator-2.brokel.test:1883',
      graceMs,
    });
    assert.equal(answer.status, 202);
    assert.deepEqual(answer.json, { draining: true });
    assert.ok(Date.now() - started < graceMs, 'POST /drain waited for the grace period');

    const packet = await disconnect;
    assert.equal(packet.reasonCode, 0x9c, 'use another server');
    assert.equal(packet.properties?.serverReference, 'orchestrator-2.brokel.test:1883');
    assert.equal(v4.connected, true, 'the 3.1.1 client was closed before its grace period');
    const closedAt = await v4Closed;
    assert.ok(closedAt - started >= graceMs - 5, `3.1.1 client closed after ${closedAt - started} ms`);

    const drained = await s.api('GET', '/healthz');
    assert.equal(drained.status, 503);
    assert.deepEqual(drained.json, { ok: false, draining: true });
    const again = await s.api('POST', '/drain');
    assert.equal(again.status, 202, 'a second drain is accepted (idempotent)');
    await waitFor(async () => (await s.status()).sessions === 0, 5000, 'no sessions left');
    assert.equal((await s.status()).draining, true);
    await assert.rejects(
      connectClient(t, s.mqttUrl, { clientId: 'late' }),
      'a drained orchestrator took a client',
    );
  });

  it('runs without a token when none is configured', async (t) => {
    const s = await startStack(t);
    assert.equal((await call(s.base, 'GET', '/healthz')).status, 200);
    assert.equal((await call(s.base, 'GET', '/status', { token: 'anything' })).status, 200);
  });

  it('Orchestrator.close() returns while a client is still connected, telling an MQTT 5 client why', async (t) => {
    const provider = await startProvider(t);
    const url = await startBroker(provider);
    const orchestrator = new Orchestrator({
      routing: 'round-robin',
      brokers: [{ url, state: 'active' }],
      log: silentLogger(),
    });
    const port = await orchestrator.listen('127.0.0.1', 0);
    const client = await connectClient(t, `mqtt://127.0.0.1:${port}`, {
      clientId: 'close-me',
      protocolVersion: 5,
    });
    const told = new Promise<number | undefined>((resolve) =>
      client.once('disconnect', (p) => resolve(p.reasonCode)),
    );
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      orchestrator.close().then(() => 'closed'),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve('still waiting after 2 s'), 2000);
      }),
    ]);
    clearTimeout(timer);
    if (outcome !== 'closed') await orchestrator.drain(undefined, 0);
    assert.equal(outcome, 'closed');
    assert.equal(await told, 0x8b); // server shutting down
  });
});

interface Cli {
  child: ChildProcess;
  ready: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `node bin/brokel.js orchestrator ...`; resolves on its ready line; killed at teardown. */
async function spawnCli(t: TestContext, args: string[], env: Record<string, string> = {}): Promise<Cli> {
  const child = spawn(process.execPath, ['bin/brokel.js', 'orchestrator', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line within 20 s; stderr: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }).on('line', (line) => {
      if (!line.startsWith('brokel orchestrator:')) return;
      clearTimeout(timer);
      resolve(line);
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before its ready line; stderr: ${stderr}`));
    });
  });
  return { child, ready, stderr: () => stderr, exited };
}

async function assertRoundTrip(t: TestContext, url: string, options: { rejectUnauthorized?: boolean } = {}) {
  const sub = await connectClient(t, url, { clientId: `rt-sub-${url}`, ...options });
  const pub = await connectClient(t, url, { clientId: `rt-pub-${url}`, protocolVersion: 5, ...options });
  const topic = `cli/${Math.random().toString(36).slice(2)}`;
  await sub.subscribeAsync(topic, { qos: 1 });
  const received = new Promise<string>((resolve) =>
    sub.once('message', (_t, payload) => resolve(payload.toString())),
  );
  await pub.publishAsync(topic, `through ${url}`, { qos: 1 });
  assert.equal(await received, `through ${url}`);
}

describe('brokel orchestrator (the real CLI as a child process)', () => {
  it('prints its ready line with the bound ports, relays MQTT over TCP and TLS, serves the admin API, exits 0 on SIGTERM', async (t) => {
    const provider = await startProvider(t);
    const broker = await startBroker(provider);
    const dir = mkdtempSync(join(tmpdir(), 'brokel-orch-cli-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
        ...['-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'],
      ],
      { stdio: 'ignore' },
    );
    const config = join(dir, 'brokel.yaml');
    writeFileSync(config, 'routing: client-affinity\n');

    const cli = await spawnCli(
      t,
      [
        ...['--listen', '127.0.0.1:0', '--brokers', broker, '--admin', '127.0.0.1:0', '--config', config],
        ...['--tls-cert', cert, '--tls-key', key, '--tls-listen', '127.0.0.1:0', '--log-level', 'warn'],
      ],
      { BROKEL_ADMIN_TOKEN: TOKEN },
    );
    const m =
      /^brokel orchestrator: MQTT on (127\.0\.0\.1:\d+), MQTT over TLS on (127\.0\.0\.1:\d+), admin on (127\.0\.0\.1:\d+)$/.exec(
        cli.ready,
      );
    assert.ok(m, cli.ready);
    const [, mqttAddr, tlsAddr, adminAddr] = m;
    assert.ok(
      !/:0$/.test(mqttAddr ?? '') && !/:0$/.test(tlsAddr ?? '') && !/:0$/.test(adminAddr ?? ''),
      cli.ready,
    );

    await assertRoundTrip(t, `mqtt://${mqttAddr}`);
    await assertRoundTrip(t, `mqtts://${tlsAddr}`, { rejectUnauthorized: false });

    const base = `http://${adminAddr}`;
    assert.equal(
      (await call(base, 'GET', '/status')).status,
      401,
      'the token from BROKEL_ADMIN_TOKEN is required',
    );
    const status = await call(base, 'GET', '/status', { token: TOKEN });
    assert.equal(status.status, 200);
    assert.equal(status.json.routing, 'client-affinity', 'routing comes from --config');
    assert.deepEqual(
      status.json.brokers.map((b: BrokerStatus) => [b.url, b.state]),
      [[broker, 'active']],
    );
    assert.equal(status.json.sessions, 4);

    // Clients are still connected: stopping must not wait for them.
    cli.child.kill('SIGTERM');
    const { code, signal } = await cli.exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, cli.stderr());
  });

  it('exits non-zero naming the flag on a bad flag', async (t) => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['--listen', '127.0.0.1:0', '--brokers', 'mqtt://127.0.0.1:1883', '--routing', 'random'],
        /--routing: "random" is not one of "round-robin"/,
      ],
      [['--listen', 'x', '--brokers', 'mqtt://127.0.0.1:1883'], /--listen: "x" is not HOST:PORT/],
      [
        ['--listen', '127.0.0.1:0', '--brokers', 'http://127.0.0.1:1883'],
        /--brokers: "http:\/\/127\.0\.0\.1:1883": only mqtt:\/\//,
      ],
      [['--listen', '127.0.0.1:0'], /--brokers: required/],
    ];
    await Promise.all(
      cases.map(async ([args, expected]) => {
        const child = spawn(process.execPath, ['bin/brokel.js', 'orchestrator', ...args], {
          cwd: ROOT,
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        t.after(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => {
          stderr += c.toString();
        });
        const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
        assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
        assert.match(stderr, expected);
      }),
    );
  });
});
