import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBrokerList, parseOrchestratorArgs } from '../../cli/orchestrator.ts';
import { MAX_BROKERS, parseBrokersBody, parseDrainBody } from '../../common/admin/schemas.ts';
import { ConfigError } from '../../common/errors.ts';
import { bearerToken, bearerTokenMatches } from '../../common/http/auth.ts';
import { formatHostPort, parseHostPort } from '../../common/net/host-port.ts';
import { resolveRoute } from '../../orchestrator/admin/routes.ts';
import { renderOrchestrator } from '../helpers/orchestrator-template.ts';

/** The `path: message` lines of the ConfigError fn throws. */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('expected a ConfigError, nothing was thrown');
}

describe('admin API: PUT /brokers body', () => {
  it('accepts a pool and keeps order and states', () => {
    const brokers = parseBrokersBody({
      brokers: [
        { url: 'mqtt://127.0.0.1:1883', state: 'active' },
        { url: 'mqtt://[::1]:1884', state: 'joining' },
        { url: 'mqtt://b', state: 'draining' },
      ],
    });
    assert.deepEqual(
      brokers.map((b) => b.state),
      ['active', 'joining', 'draining'],
    );
    assert.equal(brokers[1]?.url, 'mqtt://[::1]:1884');
  });

  const bad: Array<[string, unknown, string[]]> = [
    [
      'a state that is not one of the three',
      {
        brokers: [
          { url: 'mqtt://a:1', state: 'active' },
          { url: 'mqtt://b:1', state: 'x' },
        ],
      },
      ['brokers[1].state: "x" is not one of "joining", "active", "draining"'],
    ],
    ['a missing url', { brokers: [{ state: 'active' }] }, ['brokers[0].url: expected string, got missing']],
    ['no brokers field', {}, ['brokers: expected array, got missing']],
    ['an empty pool', { brokers: [] }, ['brokers: must name at least one broker']],
    ['a body that is a list', [], ['(root): expected object, got a list']],
    ['a body that is null', null, ['(root): expected object, got null']],
    [
      'an unknown field',
      { brokers: [{ url: 'mqtt://a:1', state: 'active', weight: 2 }] },
      ['brokers[0]: unknown field weight'],
    ],
    [
      'a URL that is not mqtt://',
      { brokers: [{ url: 'http://a:1', state: 'active' }] },
      ['brokers[0].url: "http://a:1": only mqtt:// and mqtts:// (TLS) brokers are supported'],
    ],
    [
      'a URL that does not parse',
      { brokers: [{ url: 'not a url', state: 'active' }] },
      ['brokers[0].url: "not a url" is not a URL (mqtt://host:port)'],
    ],
    [
      'one broker named twice (default port spelled out)',
      {
        brokers: [
          { url: 'mqtt://h', state: 'active' },
          { url: 'mqtt://h:1883', state: 'joining' },
        ],
      },
      ['brokers[1].url: "mqtt://h:1883" is brokers[0] again (h:1883)'],
    ],
  ];
  for (const [name, body, expected] of bad) {
    it(`refuses ${name}, naming the path`, () => {
      assert.deepEqual(
        problemsOf(() => parseBrokersBody(body)),
        expected,
      );
    });
  }

  it('reports every bad URL at once', () => {
    const problems = problemsOf(() =>
      parseBrokersBody({
        brokers: [
          { url: 'http://a', state: 'active' },
          { url: 'mqtt://ok', state: 'active' },
          { url: 'ws://c', state: 'active' },
        ],
      }),
    );
    assert.deepEqual(
      problems.map((p) => p.split(':')[0]),
      ['brokers[0].url', 'brokers[2].url'],
    );
  });

  it(`refuses more than ${MAX_BROKERS} brokers`, () => {
    const brokers = Array.from({ length: MAX_BROKERS + 1 }, (_, i) => ({
      url: `mqtt://h${i}:1883`,
      state: 'active',
    }));
    assert.match(problemsOf(() => parseBrokersBody({ brokers }))[0] ?? '', /^brokers: a list is above/);
  });

  it('never throws anything but a ConfigError on random input', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const values = (depth: number): unknown => {
      const pick = Math.floor(rand() * 8);
      if (depth > 3 || pick === 0) return [null, 0, -1.5, 'x', true, '', 'mqtt://a'][Math.floor(rand() * 7)];
      if (pick < 4) return Array.from({ length: Math.floor(rand() * 3) }, () => values(depth + 1));
      const keys = ['brokers', 'url', 'state', 'active', '__proto__', 'constructor'];
      return Object.fromEntries(
        Array.from({ length: Math.floor(rand() * 3) }, () => [
          keys[Math.floor(rand() * keys.length)],
          values(depth + 1),
        ]),
      );
    };
    for (let i = 0; i < 2000; i++) {
      const input = values(0);
      for (const parse of [parseBrokersBody, parseDrainBody]) {
        try {
          parse(input);
        } catch (err) {
          assert.ok(err instanceof ConfigError, `${JSON.stringify(input)} threw ${String(err)}`);
        }
      }
    }
  });
});

describe('admin API: POST /drain body', () => {
  it('treats an absent body as no reference and the default grace', () => {
    assert.deepEqual(parseDrainBody(undefined), {});
  });

  it('accepts a reference and a grace period', () => {
    assert.deepEqual(parseDrainBody({ serverReference: '10.0.0.2:1883', graceMs: 250 }), {
      serverReference: '10.0.0.2:1883',
      graceMs: 250,
    });
    assert.equal(parseDrainBody({ serverReference: 'a:1883 b:1883' }).serverReference, 'a:1883 b:1883');
  });

  const bad: Array<[string, unknown, string]> = [
    ['a negative grace', { graceMs: -1 }, 'graceMs: -1 is below 0'],
    ['a grace of more than ten minutes', { graceMs: 600_001 }, 'graceMs: 600001 is above 600000'],
    ['a grace that is a string', { graceMs: '5' }, 'graceMs: expected number, got "5"'],
    [
      'a reference with a line break',
      { serverReference: 'a:1\nb:2' },
      'serverReference: "a:1\\nb:2" is not a server reference (host:port, several separated by spaces)',
    ],
    [
      'an empty reference',
      { serverReference: '' },
      'serverReference: "" is not a server reference (host:port, several separated by spaces)',
    ],
    ['an unknown field', { reference: 'a:1' }, '(root): unknown field reference'],
  ];
  for (const [name, body, expected] of bad) {
    it(`refuses ${name}, naming the path`, () => {
      assert.deepEqual(
        problemsOf(() => parseDrainBody(body)),
        [expected],
      );
    });
  }
});

describe('admin API: bearer token', () => {
  it('reads the token of an Authorization header (RFC 6750 §2.1), scheme case-insensitive', () => {
    assert.equal(bearerToken('Bearer abc.def-1'), 'abc.def-1');
    assert.equal(bearerToken('bearer abc'), 'abc');
    assert.equal(bearerToken('Basic YWxhZGRpbjpvcGVuc2VzYW1l'), undefined);
    assert.equal(bearerToken('Bearer '), undefined);
    assert.equal(bearerToken('Bearer a b'), undefined);
    assert.equal(bearerToken(undefined), undefined);
    assert.equal(bearerToken(`Bearer ${'x'.repeat(5000)}`), undefined);
  });

  it('matches only the exact token', () => {
    assert.equal(bearerTokenMatches('Bearer s3cret', 's3cret'), true);
    assert.equal(bearerTokenMatches('Bearer s3cret2', 's3cret'), false);
    assert.equal(bearerTokenMatches('Bearer s3cre', 's3cret'), false);
    assert.equal(bearerTokenMatches('Bearer S3CRET', 's3cret'), false);
    assert.equal(bearerTokenMatches(undefined, 's3cret'), false);
    assert.equal(bearerTokenMatches('s3cret', 's3cret'), false);
  });

  it('never matches a missing header, even against an empty expected token', () => {
    assert.equal(bearerTokenMatches(undefined, ''), false);
    assert.equal(bearerTokenMatches('Bearer ', ''), false);
  });
});

describe('admin API: routes', () => {
  it('selects each route by method and path, ignoring the query', () => {
    assert.deepEqual(resolveRoute('GET', '/status?verbose=1'), {
      kind: 'route',
      name: 'status',
      body: false,
    });
    assert.deepEqual(resolveRoute('PUT', '/brokers'), { kind: 'route', name: 'brokers', body: true });
    assert.deepEqual(resolveRoute('POST', '/drain'), { kind: 'route', name: 'drain', body: true });
    assert.deepEqual(resolveRoute('GET', '/healthz'), { kind: 'route', name: 'healthz', body: false });
    assert.deepEqual(resolveRoute('GET', '/metrics'), { kind: 'route', name: 'metrics', body: false });
  });

  it('answers an unknown path with not-found and a known one with the wrong method with its Allow', () => {
    assert.deepEqual(resolveRoute('GET', '/nope'), { kind: 'not-found', path: '/nope' });
    assert.deepEqual(resolveRoute('GET', '/toString'), { kind: 'not-found', path: '/toString' });
    assert.deepEqual(resolveRoute('GET', '/status/'), { kind: 'not-found', path: '/status/' });
    assert.deepEqual(resolveRoute('GET', '/brokers'), {
      kind: 'wrong-method',
      path: '/brokers',
      allow: 'PUT',
    });
    assert.deepEqual(resolveRoute('DELETE', '/status'), {
      kind: 'wrong-method',
      path: '/status',
      allow: 'GET',
    });
  });
});

describe('brokel orchestrator: flags', () => {
  const base = ['--listen', '127.0.0.1:0', '--brokers', 'mqtt://127.0.0.1:1883'];

  it('parses a full command line; every broker starts active', () => {
    const s = parseOrchestratorArgs(
      [
        ...['--listen', '[::1]:1883', '--brokers', 'mqtt://a:1883, mqtt://b'],
        ...['--admin', '127.0.0.1:9781', '--admin-token', 't0k', '--routing', 'topic-affinity'],
        ...['--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--log-level', 'debug', '-c', 'brokel.yaml'],
        ...['--qos2-on-broker-loss', 'drop', '--connects-per-second', '200', '--max-queued-connects', '900'],
        ...['--upstream-link-grace-seconds', '5', '--max-pending-connections', '300'],
        ...['--broker-ca', 'ca.pem', '--ack-hold-ms', '0'],
      ],
      {},
    );
    assert.deepEqual(s, {
      listen: { host: '::1', port: 1883 },
      brokers: [
        { url: 'mqtt://a:1883', state: 'active' },
        { url: 'mqtt://b:1883', state: 'active' },
      ],
      routing: 'topic-affinity',
      configFile: 'brokel.yaml',
      qos2OnBrokerLoss: 'drop',
      connectsPerSecond: 200,
      maxQueuedConnects: 900,
      maxPendingConnections: 300,
      upstreamLinkGraceSeconds: 5,
      ackHoldMs: 0,
      admin: { host: '127.0.0.1', port: 9781 },
      adminToken: 't0k',
      tls: { certFile: 'c.pem', keyFile: 'k.pem', listen: { host: '::1', port: 8883 } },
      brokerCaFile: 'ca.pem',
      registryCredentials: undefined,
      logLevel: 'debug',
    });
  });

  it('takes the registry user from the environment only; a password without a user is refused', async () => {
    assert.deepEqual(
      parseOrchestratorArgs(base, { BROKEL_REGISTRY_USERNAME: 'taxi', BROKEL_REGISTRY_PASSWORD: 'roma' })
        .registryCredentials,
      { username: 'taxi', password: 'roma' },
    );
    assert.throws(
      () => parseOrchestratorArgs(base, { BROKEL_REGISTRY_PASSWORD: 'roma' }),
      /BROKEL_REGISTRY_USERNAME: is empty or missing while BROKEL_REGISTRY_PASSWORD is set/,
    );
    const spec = await renderOrchestrator({
      brokers: ['mqtt://127.42.0.3:1883'],
      registryUser: { username: 'taxi', password: 'roma-2014' },
    });
    assert.equal(spec.env?.BROKEL_REGISTRY_USERNAME, 'taxi');
    assert.equal(spec.env?.BROKEL_REGISTRY_PASSWORD, 'roma-2014');
    assert.ok(!spec.args.some((a) => a.includes('roma-2014')), 'the password is not on the command line');
  });

  it('leaves routing to the config when --routing is absent; takes the token and level from env', () => {
    const s = parseOrchestratorArgs([...base, '--admin', '127.0.0.1:0'], {
      BROKEL_ADMIN_TOKEN: 'from-env',
      BROKEL_LOG_LEVEL: 'warn',
    });
    assert.equal(s.routing, undefined);
    assert.equal(s.adminToken, 'from-env');
    assert.equal(s.logLevel, 'warn');
    assert.equal(
      parseOrchestratorArgs([...base, '--admin', '127.0.0.1:0', '--admin-token', 'flag'], {
        BROKEL_ADMIN_TOKEN: 'env',
      }).adminToken,
      'flag',
    );
  });

  const bad: Array<[string, string[], string]> = [
    [
      'a routing that does not exist',
      ['--routing', 'random'],
      '--routing: "random" is not one of "round-robin", "least-outstanding", "client-affinity", "topic-affinity"',
    ],
    [
      'a QoS 2 choice that does not exist',
      ['--qos2-on-broker-loss', 'lose'],
      '--qos2-on-broker-loss: "lose" is not one of "resend", "drop"',
    ],
    [
      'a link grace beyond an hour',
      ['--upstream-link-grace-seconds', '3601'],
      '--upstream-link-grace-seconds: "3601" is not 0 to 3600 seconds',
    ],
    [
      'an acknowledgement hold beyond a second',
      ['--ack-hold-ms', '1001'],
      '--ack-hold-ms: "1001" is not 0 to 1000 ms',
    ],
    [
      'an acknowledgement hold that is not a number',
      ['--ack-hold-ms', '2.5'],
      '--ack-hold-ms: "2.5" is not 0 to 1000 ms',
    ],
    ['a listen address without a port', ['--listen', 'x'], '--listen: "x" is not HOST:PORT'],
    ['a port above 65535', ['--listen', 'h:70000'], '--listen: "h:70000": port 70000 is above 65535'],
    ['an admin address without a host', ['--admin', ':9780'], '--admin: ":9780" is not HOST:PORT'],
    [
      'a log level pino does not know',
      ['--log-level', 'loud'],
      '--log-level: "loud" is not one of "fatal", "error", "warn", "info", "debug", "trace", "silent"',
    ],
    ['a certificate without a key', ['--tls-cert', 'c.pem'], '--tls-key: required with --tls-cert'],
    ['a key without a certificate', ['--tls-key', 'k.pem'], '--tls-cert: required with --tls-key'],
    ['a TLS address without TLS', ['--tls-listen', 'h:8883'], '--tls-listen: needs --tls-cert and --tls-key'],
    ['a token without an admin address', ['--admin-token', 't'], '--admin-token: given without --admin'],
    ['an empty token', ['--admin', 'h:1', '--admin-token', ''], '--admin-token: is empty'],
    ['a positional argument', ['extra'], 'orchestrator: unexpected argument "extra"'],
  ];
  for (const [name, extra, expected] of bad) {
    it(`refuses ${name}, naming the flag`, () => {
      const argv = [...base];
      for (let i = 0; i < extra.length; i += 2) {
        const at = argv.indexOf(extra[i] ?? '');
        if (at >= 0 && extra[i + 1] !== undefined) argv.splice(at, 2);
      }
      assert.deepEqual(
        problemsOf(() => parseOrchestratorArgs([...argv, ...extra], {})),
        [expected],
      );
    });
  }

  it('requires --listen and --brokers', () => {
    assert.deepEqual(
      problemsOf(() => parseOrchestratorArgs(['--brokers', 'mqtt://a'], {})),
      ['--listen: required (HOST:PORT)'],
    );
    assert.deepEqual(
      problemsOf(() => parseOrchestratorArgs(['--listen', 'h:1'], {})),
      ['--brokers: required (mqtt://host:port[,...])'],
    );
  });

  it('names an unknown flag', () => {
    assert.match(problemsOf(() => parseOrchestratorArgs([...base, '--bogus'], {}))[0] ?? '', /--bogus/);
  });

  it('checks every broker URL of --brokers at once', () => {
    assert.deepEqual(
      problemsOf(() => parseBrokerList('mqtt://a:1,http://b,,mqtt://a:1')),
      [
        '--brokers: "http://b": only mqtt:// and mqtts:// (TLS) brokers are supported',
        '--brokers: empty entry in "mqtt://a:1,http://b,,mqtt://a:1"',
        '--brokers: "mqtt://a:1" is named twice',
      ],
    );
  });

  it('round-trips HOST:PORT, IPv6 in brackets', () => {
    for (const text of ['127.0.0.1:1883', '[::1]:0', 'broker-1.local:8883']) {
      assert.equal(formatHostPort(parseHostPort(text, '--x')), text);
    }
  });
});

describe('brokel orchestrator without --config', () => {
  it("uses the config schema's defaults for routing and qos2OnBrokerLoss (without loading the schema)", async () => {
    const { DEFAULT_ROUTING } = await import('../../cli/orchestrator.ts');
    const { DEFAULT_LIMITS } = await import('../../orchestrator/limits.ts');
    const { loadConfig } = await import('../../common/config/load.ts');
    const defaults = await loadConfig(undefined);
    assert.equal(DEFAULT_ROUTING, defaults.routing);
    assert.equal(DEFAULT_LIMITS.qos2OnBrokerLoss, defaults.limits.qos2OnBrokerLoss);
    assert.equal(DEFAULT_LIMITS.connectsPerSecond, defaults.limits.connectsPerSecond);
    assert.equal(DEFAULT_LIMITS.maxQueuedConnects, defaults.limits.maxQueuedConnects);
    assert.equal(DEFAULT_LIMITS.maxPendingConnections, defaults.limits.maxPendingConnections);
    assert.equal(DEFAULT_LIMITS.upstreamLinkGraceSeconds, defaults.limits.upstreamLinkGraceSeconds);
    assert.equal(DEFAULT_LIMITS.ackHoldMs, defaults.limits.ackHoldMs);
  });
});
