// test-lanes: shared
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { ConfigError } from '../../common/errors.ts';
import { silentLogger } from '../../common/logger.ts';
import { probeMqtt } from '../../common/mqtt-probe.ts';
import { createCa, issueServerCert } from '../../common/tls/certs.ts';
import { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { parseMosquittoParams, renderMosquittoConf } from '../../templates/mosquitto/config.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { connectClient, waitFor, within } from '../helpers/resources.ts';

/**
 * Issue 17: TLS from the orchestrator to the brokers. A CA and a broker certificate made with openssl
 * (common/tls/certs.ts), a Mosquitto whose config is the template's with its TLS listener, and
 * orchestrators that reach it as `mqtts://` and verify it against the CA.
 */
async function tlsBroker(t: TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'brokel-tls-'));
  await chmod(dir, 0o755); // Mosquitto reads its certificate after dropping to the mosquitto user
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ca = await createCa(join(dir, 'ca'));
  const cert = await issueServerCert(ca, join(dir, 'broker'), 'broker', ['127.0.0.1', 'localhost'], 0o644);
  const port = await freePort();
  const tlsPort = await freePort();
  const params = parseMosquittoParams({
    persistence: false,
    logTypes: ['error', 'warning'],
    tls: { port: tlsPort, certFile: cert.certFile, keyFile: cert.keyFile },
  });
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(
    conf,
    renderMosquittoConf({ host: '127.0.0.1', port, dataDir: dir, passwordFile: undefined, params }),
  );
  const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  const caPem = readFileSync(ca.certFile);
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`mosquitto exited ${child.exitCode}: ${stderr}`);
      return probeMqtt({ host: '127.0.0.1', port: tlsPort, tls: { ca: caPem }, timeoutMs: 500 }).then(
        () => true,
        () => false,
      );
    },
    10_000,
    'the TLS listener to answer',
  );
  return { dir, caPem, tlsPort, port };
}

function orchestrator(t: TestContext, brokers: string[], brokerCa: Buffer | undefined) {
  const o = new Orchestrator({
    routing: 'round-robin',
    brokers: brokers.map((url) => ({ url, state: 'active' as const })),
    log: silentLogger(),
    ...(brokerCa ? { brokerCa } : {}),
  });
  t.after(() => o.close());
  return o;
}

describe('TLS from orchestrator to brokers (mqtts://, verified against the deployment CA)', () => {
  it('QoS 1 flows through an orchestrator whose only broker link is TLS verified against the CA', async (t) => {
    const broker = await tlsBroker(t);
    const o = orchestrator(t, [`mqtts://127.0.0.1:${broker.tlsPort}`], broker.caPem);
    const url = `mqtt://127.0.0.1:${await o.listen('127.0.0.1', 0)}`;
    const sub = await connectClient(t, url, { clientId: 'tls-sub', protocolVersion: 5 });
    const got: string[] = [];
    sub.on('message', (_topic, payload) => got.push(payload.toString()));
    await within(sub.subscribeAsync('tls/#', { qos: 1 }), 10_000, 'SUBACK');
    const pub = await connectClient(t, url, { clientId: 'tls-pub', protocolVersion: 4 });
    for (let i = 0; i < 20; i++)
      await within(pub.publishAsync('tls/x', `m${i}`, { qos: 1 }), 5_000, 'PUBACK');
    await waitFor(() => got.length >= 20, 10_000, 'the 20 messages');
    assert.deepEqual(
      got,
      Array.from({ length: 20 }, (_, i) => `m${i}`),
    );
    assert.equal(o.pool.list()[0]?.tls !== undefined, true);
  });

  it('a broker whose certificate another CA signed is not talked to: the client gets CONNACK 3 (server unavailable)', async (t) => {
    const broker = await tlsBroker(t);
    const other = await createCa(join(broker.dir, 'other-ca'));
    const o = orchestrator(t, [`mqtts://127.0.0.1:${broker.tlsPort}`], readFileSync(other.certFile));
    const url = `mqtt://127.0.0.1:${await o.listen('127.0.0.1', 0)}`;
    const refused = await connectClient(t, url, { clientId: 'tls-refused', protocolVersion: 4 }).then(
      () => 'connected',
      (err: Error & { code?: number }) => `refused ${err.code ?? err.message}`,
    );
    assert.equal(refused, 'refused 3');
  });

  it('an mqtts:// broker without a CA is refused at configuration (no unverified TLS)', () => {
    assert.throws(
      () =>
        new Orchestrator({
          routing: 'round-robin',
          brokers: [{ url: 'mqtts://127.0.0.1:8883', state: 'active' }],
          log: silentLogger(),
        }),
      (err: unknown) => err instanceof ConfigError && /needs the brokers' CA/.test(err.message),
    );
  });
});
