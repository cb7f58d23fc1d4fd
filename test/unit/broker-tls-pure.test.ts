import assert from 'node:assert/strict';
import { it } from 'node:test';
import { configSchema } from '../../common/config/schema.ts';
import { subjectAltName } from '../../common/tls/certs.ts';
import { parseMosquittoParams, renderMosquittoConf } from '../../templates/mosquitto/config.ts';
import { renderOrchestrator } from '../helpers/orchestrator-template.ts';

it('subjectAltName: IP addresses as IP entries, names as DNS entries (RFC 6125)', () => {
  assert.equal(subjectAltName(['127.0.0.1', '::1', 'localhost']), 'IP:127.0.0.1,IP:::1,DNS:localhost');
});

it('the Mosquitto template adds a TLS listener after the plain one, with its certificate and key', () => {
  const params = parseMosquittoParams({ tls: { port: 8883, certFile: '/c/b.crt', keyFile: '/c/b.key' } });
  const conf = renderMosquittoConf({
    host: '127.42.0.9',
    port: 1883,
    dataDir: '/d',
    passwordFile: undefined,
    params,
  });
  const lines = conf.split('\n');
  const plain = lines.indexOf('listener 1883 127.42.0.9');
  const tls = lines.indexOf('listener 8883 127.42.0.9');
  assert.ok(plain >= 0 && tls > plain, conf);
  // Listener-specific options apply to the listener above them: they must come after the TLS one.
  assert.deepEqual(lines.slice(tls + 1, tls + 4), ['protocol mqtt', 'certfile /c/b.crt', 'keyfile /c/b.key']);
  const none = renderMosquittoConf({
    host: 'h',
    port: 1,
    dataDir: '/d',
    passwordFile: undefined,
    params: parseMosquittoParams({}),
  });
  assert.doesNotMatch(none, /certfile|listener 8883/);
});

it('brokers.tls: the params carry only the CA; the listener the template issued is what is rendered', () => {
  const params = parseMosquittoParams({ tls: { caCertFile: '/s/tls/ca.crt', caKeyFile: '/s/tls/ca.key' } });
  const base = { host: '127.42.0.3', port: 1883, dataDir: '/d', passwordFile: undefined, params };
  // Without the issued listener there is nothing to render (the CA is not a server certificate).
  assert.doesNotMatch(renderMosquittoConf(base), /certfile|ca\.key/);
  const conf = renderMosquittoConf({
    ...base,
    tls: { port: 8883, certFile: '/d/tls.crt', keyFile: '/d/tls.key' },
  });
  assert.match(
    conf,
    /\nlistener 8883 127\.42\.0\.3\nprotocol mqtt\ncertfile \/d\/tls\.crt\nkeyfile \/d\/tls\.key\n/,
  );
  assert.throws(() => parseMosquittoParams({ tls: { caCertFile: '/a' } }), /params\.tls/);
});

it('brokers.tls: true needs Mosquitto brokers on the local provider; the orchestrator template passes --broker-ca', async () => {
  assert.equal(configSchema.parse({ brokers: { tls: true } }).brokers.tls, true);
  assert.equal(configSchema.parse({}).brokers.tls, false);
  const mixed = configSchema.safeParse({
    brokers: { tls: true },
    levels: { brokers: { template: ['mosquitto', 'rabbitmq'] } },
  });
  assert.match(JSON.stringify(mixed.error?.issues), /the rabbitmq template has no TLS listener/);
  const k8s = configSchema.safeParse({ brokers: { tls: true }, provider: { kind: 'kubernetes' } });
  assert.match(JSON.stringify(k8s.error?.issues), /needs provider\.kind local/);
  const spec = await renderOrchestrator({
    brokers: ['mqtts://127.42.0.3:8883'],
    brokerCaFile: '/s/tls/ca.crt',
  });
  const at = spec.args.indexOf('--broker-ca');
  assert.equal(spec.args[at + 1], '/s/tls/ca.crt');
});
