import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, parseConfig, validate } from '../../common/config/load.ts';
import { configSchema } from '../../common/config/schema.ts';
import { problemsOf } from '../helpers/config.ts';

describe('config', () => {
  it('has a default for every field (an empty file is a full config)', () => {
    const config = parseConfig('', 'empty.yaml');
    assert.equal(config.monitor.intervalSeconds, 15);
    assert.equal(config.smoothing.alpha, 0.5);
    assert.equal(config.levels.brokers.lower, 0.3);
    assert.equal(config.levels.brokers.upper, 0.7);
    assert.equal(config.levels.brokers.template, 'mosquitto');
    assert.equal(config.levels.orchestrators.max, 4);
    assert.equal(config.levels.orchestrators.cpuQuota, undefined);
    assert.equal(config.provider.kind, 'local');
    assert.equal(config.provider.local.addressing, 'aliases');
    assert.equal(config.dns.name, 'mqtt.brokel.test');
    assert.equal(config.api.listen, '127.0.0.1:9780');
    assert.equal(config.limits.qos2OnBrokerLoss, 'resend');
  });

  it('is frozen after loading', () => {
    const config = parseConfig('levels: { brokers: { upper: 0.8 } }');
    assert.equal(config.levels.brokers.upper, 0.8);
    assert.throws(() => {
      (config.levels.brokers as { upper: number }).upper = 0.9;
    }, TypeError);
  });

  it('accepts the shape of ARCHITECTURE.md', () => {
    const config = parseConfig(`
monitor: { intervalSeconds: 15, warmupObservations: 3 }
smoothing: { alpha: 0.5 }
policy: reactive
levels:
  brokers:       { lower: 0.3, upper: 0.7, min: 1, max: 10, template: [mosquitto, rabbitmq], cpuQuota: 0.25 }
  orchestrators: { lower: 0.3, upper: 0.7, min: 1, max: 4 }
sla: { maxReplicas: 12 }
routing: round-robin
provider:
  kind: local
  local: { addressing: aliases, bootDelaySeconds: 0 }
dns: { listen: 127.0.0.1:5353, zone: brokel.test, name: mqtt.brokel.test, ttlSeconds: 5 }
api: { listen: 127.0.0.1:9780 }
`);
    assert.deepEqual(config.levels.brokers.template, ['mosquitto', 'rabbitmq']);
  });

  const cases: Array<[string, string, string]> = [
    ['threshold above 1', 'levels: { brokers: { upper: 1.4 } }', 'levels.brokers.upper: 1.4 is above 1'],
    [
      'threshold below 0',
      'levels: { orchestrators: { lower: -0.1 } }',
      'levels.orchestrators.lower: -0.1 is below 0',
    ],
    [
      'lower not below upper',
      'levels: { brokers: { lower: 0.8, upper: 0.7 } }',
      'levels.brokers.lower: 0.8 is not below upper (0.7)',
    ],
    ['min above max', 'levels: { brokers: { min: 5, max: 3 } }', 'levels.brokers.min: 5 is above max (3)'],
    ['min of zero', 'levels: { brokers: { min: 0 } }', 'levels.brokers.min: 0 is below 1'],
    ['fractional max', 'levels: { brokers: { max: 2.5 } }', 'levels.brokers.max: expected int, got 2.5'],
    ['alpha of zero', 'smoothing: { alpha: 0 }', 'smoothing.alpha: 0 is below or equal to 0'],
    ['alpha above one', 'smoothing: { alpha: 2 }', 'smoothing.alpha: 2 is above 1'],
    [
      'interval as a string',
      'monitor: { intervalSeconds: fast }',
      'monitor.intervalSeconds: expected number, got "fast"',
    ],
    ['unknown policy', 'policy: psychic', 'policy: "psychic" is not one of "reactive", "proactive", "hpa"'],
    [
      'unknown routing',
      'routing: random',
      'routing: "random" is not one of "round-robin", "least-outstanding", "client-affinity", "topic-affinity"',
    ],
    [
      'unknown QoS 2 choice on broker loss',
      'limits: { qos2OnBrokerLoss: lose }',
      'limits.qos2OnBrokerLoss: "lose" is not one of "resend", "drop"',
    ],
    [
      'unknown provider',
      'provider: { kind: aws }',
      'provider.kind: "aws" is not one of "local", "kubernetes", "opennebula"',
    ],
    [
      'bad addressing',
      'provider: { local: { addressing: nat } }',
      'provider.local.addressing: "nat" is not one of "aliases", "ports"',
    ],
    [
      'negative boot delay',
      'provider: { local: { bootDelaySeconds: -1 } }',
      'provider.local.bootDelaySeconds: -1 is below 0',
    ],
    [
      'zero cpu quota',
      'levels: { brokers: { cpuQuota: 0 } }',
      'levels.brokers.cpuQuota: 0 is below or equal to 0',
    ],
    ['bad listen address', 'dns: { listen: localhost }', 'dns.listen: "localhost" is not HOST:PORT'],
    ['unknown field', 'levels: { brokers: { uper: 0.7 } }', 'levels.brokers: unknown field uper'],
    [
      'sla below the minimums',
      'sla: { maxReplicas: 2 }\nlevels: { brokers: { min: 2 } }',
      "sla.maxReplicas: 2 is below the levels' minimums together (3)",
    ],
    [
      'template with a bad name',
      'levels: { brokers: { template: "Mosq uitto" } }',
      'levels.brokers.template: "Mosq uitto" is not a template name',
    ],
    [
      'bad user',
      'brokers: { users: [ { username: "" , password: x } ] }',
      'brokers.users[0].username: "" is below 1',
    ],
    ['a zero Holt trend factor', 'proactive: { beta: 0 }', 'proactive.beta: 0 is below or equal to 0'],
    [
      'a zero forecast horizon',
      'proactive: { horizonObservations: 0 }',
      'proactive.horizonObservations: 0 is below 1',
    ],
    ['a short admin token', 'manager: { adminToken: short }', 'manager.adminToken: "short" is below 16'],
    [
      'a zero action budget',
      'manager: { actionTimeoutSeconds: 0 }',
      'manager.actionTimeoutSeconds: 0 is below 1',
    ],
    [
      'a negative drain window',
      'manager: { drainQuietSeconds: -1 }',
      'manager.drainQuietSeconds: -1 is below 0',
    ],
    ['an interval of zero', 'monitor: { intervalSeconds: 0 }', 'monitor.intervalSeconds: 0 is below 0.1'],
    [
      'a negative warm-up',
      'monitor: { warmupObservations: -1 }',
      'monitor.warmupObservations: -1 is below 0',
    ],
    [
      'a negative cool-down',
      'levels: { brokers: { cooldownObservations: -1 } }',
      'levels.brokers.cooldownObservations: -1 is below 0',
    ],
  ];
  for (const [name, yaml, expected] of cases) {
    it(`rejects ${name} with a path-qualified error`, () => {
      const problems = problemsOf(yaml);
      assert.ok(problems.includes(expected), `got:\n${problems.join('\n')}`);
    });
  }

  it('refuses a pending-connection bound a connection storm would exceed, and accepts 0 or a large one', () => {
    const problems = problemsOf(
      'limits: { connectsPerSecond: 500, maxQueuedConnects: 2500, maxPendingConnections: 1000 }',
    );
    assert.ok(
      problems.some((p) =>
        p.startsWith(
          'limits.maxPendingConnections: is 1000, below connectsPerSecond + maxQueuedConnects (3000)',
        ),
      ),
      `got:\n${problems.join('\n')}`,
    );
    for (const ok of [
      'limits: { maxPendingConnections: 0 }',
      'limits: { maxPendingConnections: 3000 }',
      'limits: { connectsPerSecond: 0, maxPendingConnections: 10 }',
      '',
    ])
      assert.doesNotThrow(() => parseConfig(ok, 'ok.yaml'), ok);
  });

  it('reports YAML syntax errors with a line number', () => {
    const problems = problemsOf('levels:\n  brokers: { upper: 0.7\n');
    assert.match(problems[0] ?? '', /^line \d+, column \d+: /);
  });

  it('names the file in the message, and a missing file clearly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'brokel-config-'));
    try {
      const file = join(dir, 'brokel.yaml');
      await writeFile(file, 'levels: { brokers: { upper: 1.4 } }\n');
      await assert.rejects(
        loadConfig(file),
        (err: Error) => err.message === `${file}: levels.brokers.upper: 1.4 is above 1`,
      );
      await assert.rejects(loadConfig(join(dir, 'nope.yaml')), /nope\.yaml: \(file\): no such file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('config: dns', () => {
  const problemsOf = (dns: unknown) => {
    try {
      validate(configSchema, { dns });
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };
  it('has defaults for the zone, name, TTL, tie distance and answer size', () => {
    const config = validate(configSchema, {});
    assert.deepEqual(
      [
        config.dns.zone,
        config.dns.name,
        config.dns.ttlSeconds,
        config.dns.tieKm,
        config.dns.topK,
        config.dns.enabled,
      ],
      ['brokel.test', 'mqtt.brokel.test', 5, 50, 1, true],
    );
  });
  it('lower-cases names and drops the trailing dot', () => {
    const config = validate(configSchema, { dns: { zone: 'Example.ORG.', name: 'MQTT.example.org' } });
    assert.deepEqual([config.dns.zone, config.dns.name], ['example.org', 'mqtt.example.org']);
  });
  it('names each problem with its path', () => {
    assert.match(
      problemsOf({ name: 'mqtt.other.test' }),
      /dns\.name: mqtt\.other\.test is not inside zone brokel\.test/,
    );
    assert.match(
      problemsOf({ locations: [{ cidr: '10.0.0.0/33', lat: 0, lon: 0 }] }),
      /dns\.locations\[0\]\.cidr: is not an IPv4 or IPv6 CIDR/,
    );
    assert.match(
      problemsOf({ locations: [{ cidr: '10.0.0.0/8', lat: 91, lon: 0 }] }),
      /dns\.locations\[0\]\.lat/,
    );
    assert.match(
      problemsOf({ registry: { url: 'http://127.0.0.1:9' } }),
      /dns\.registry\.token: is required/,
    );
    assert.match(problemsOf({ zone: 'bad..zone' }), /dns\.zone/);
    assert.match(problemsOf({ topK: 0 }), /dns\.topK/);
  });
});
