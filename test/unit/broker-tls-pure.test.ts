import assert from 'node:assert/strict';
import { it } from 'node:test';
import { subjectAltName } from '../../common/tls/certs.ts';
import { parseMosquittoParams, renderMosquittoConf } from '../../templates/mosquitto/config.ts';

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
