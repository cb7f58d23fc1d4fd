import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../common/errors.ts';
import {
  parseRabbitmqParams,
  type RabbitmqConfInput,
  renderEnabledPlugins,
  renderRabbitmqConf,
} from '../../templates/rabbitmq/config.ts';
import { rabbitmqPasswordHash, renderDefinitions } from '../../templates/rabbitmq/definitions.ts';
import { rabbitmqEnv } from '../../templates/rabbitmq/process.ts';
import { ANONYMOUS_USER, rabbitmqTemplate } from '../../templates/rabbitmq/template.ts';
import type { RenderContext } from '../../templates/template.ts';

type ConfCase = Omit<Partial<RabbitmqConfInput>, 'params'> & { params?: Record<string, unknown> };

function confLines(input: ConfCase): string[] {
  const { params, ...rest } = input;
  const text = renderRabbitmqConf({
    host: '127.0.77.1',
    port: 1883,
    amqpPort: 5672,
    managementPort: undefined,
    definitionsFile: '/data/definitions.json',
    anonymous: undefined,
    ...rest,
    params: parseRabbitmqParams(params ?? {}),
  });
  return text.split('\n');
}

function problemsOf(params: Record<string, unknown>): string[] {
  try {
    parseRabbitmqParams(params);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('expected the params to be rejected');
}

/** Recomputes a rabbit_password_hashing_sha256 hash from its own salt. */
function hashMatches(hash: string, password: string): boolean {
  const bytes = Buffer.from(hash, 'base64');
  const salt = bytes.subarray(0, 4);
  const digest = createHash('sha256')
    .update(Buffer.concat([salt, Buffer.from(password, 'utf8')]))
    .digest();
  return bytes.length === 36 && digest.equals(bytes.subarray(4));
}

describe('rabbitmq template: params', () => {
  it('has a default for every field', () => {
    assert.deepEqual(parseRabbitmqParams({}), {
      management: false,
      vhost: '/',
      logLevel: 'info',
      memoryHighWatermarkMiB: 1024,
      prefetch: 10,
    });
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['a non-boolean management', { management: 'yes' }, /^params\.management: expected boolean, got "yes"$/],
    ['an unknown log level', { logLevel: 'loud' }, /^params\.logLevel: "loud" is not one of "debug"/],
    ['a vhost with a space', { vhost: 'a b' }, /^params\.vhost: "a b" is not a plain vhost name/],
    ['a tiny watermark', { memoryHighWatermarkMiB: 64 }, /^params\.memoryHighWatermarkMiB: 64 is below 128$/],
    ['a fractional prefetch', { prefetch: 1.5 }, /^params\.prefetch: /],
    ['an unknown field', { queueLimit: 5 }, /^params: unknown field queueLimit$/],
  ];
  for (const [name, params, expected] of bad) {
    it(`rejects ${name} with a ConfigError naming the field`, () => {
      const problems = problemsOf(params);
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0] ?? '', expected);
    });
  }
});

describe('rabbitmq template: rabbitmq.conf', () => {
  const cases: { name: string; input: ConfCase; has: string[]; hasNot: RegExp[] }[] = [
    {
      name: 'aliases: standard ports on the replica address',
      input: {},
      has: ['listeners.tcp.default = 127.0.77.1:5672', 'mqtt.listeners.tcp.default = 127.0.77.1:1883'],
      hasNot: [/^management\./],
    },
    {
      name: 'ports: ephemeral ports on 127.0.0.1',
      input: { host: '127.0.0.1', port: 40001, amqpPort: 40002 },
      has: ['listeners.tcp.default = 127.0.0.1:40002', 'mqtt.listeners.tcp.default = 127.0.0.1:40001'],
      hasNot: [/:1883$/, /:5672$/],
    },
    {
      name: 'no users: anonymous clients act as the generated user',
      input: { anonymous: { username: ANONYMOUS_USER, password: 'pw-123' } },
      has: [
        'mqtt.allow_anonymous = true',
        `mqtt.default_user = ${ANONYMOUS_USER}`,
        'mqtt.default_pass = pw-123',
      ],
      hasNot: [],
    },
    {
      name: 'users: anonymous refused and no default user',
      input: {},
      has: ['mqtt.allow_anonymous = false'],
      hasNot: [/^mqtt\.default_(user|pass)/],
    },
    {
      name: 'management on: its listener on the replica address',
      input: { managementPort: 15672, params: { management: true } },
      has: ['management.tcp.ip = 127.0.77.1', 'management.tcp.port = 15672'],
      hasNot: [],
    },
    {
      name: 'management off: no management key (RabbitMQ refuses unknown keys)',
      input: { managementPort: 15672, params: { management: false } },
      has: [],
      hasNot: [/^management\./],
    },
    {
      name: 'params: vhost, prefetch, watermark in bytes, log level',
      input: { params: { vhost: 'iot', prefetch: 50, memoryHighWatermarkMiB: 512, logLevel: 'warning' } },
      has: [
        'mqtt.vhost = iot',
        'mqtt.prefetch = 50',
        'vm_memory_high_watermark.absolute = 536870912',
        'log.console.level = warning',
      ],
      hasNot: [],
    },
    {
      name: 'always: definitions, console logging without colours, no log file',
      input: {},
      has: [
        'load_definitions = /data/definitions.json',
        'log.console = true',
        'log.console.use_colors = off',
        'log.file = false',
      ],
      hasNot: [/^loopback_users/, /^mqtt\.tcp_listen_options/],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const lines = confLines(c.input);
      for (const line of c.has)
        assert.ok(lines.includes(line), `missing ${JSON.stringify(line)} in\n${lines.join('\n')}`);
      for (const re of c.hasNot)
        assert.ok(!lines.some((l) => re.test(l)), `unexpected ${re} in\n${lines.join('\n')}`);
    });
  }

  it('every line is a comment, blank or `key = value`', () => {
    const lines = confLines({
      anonymous: { username: 'a', password: 'b' },
      managementPort: 1,
      params: { management: true },
    });
    for (const line of lines) assert.match(line, /^(#.*|[a-z_.]+ = \S+|)$/);
  });
});

describe('rabbitmq template: enabled_plugins', () => {
  it('enables only rabbitmq_mqtt by default', () => {
    assert.equal(renderEnabledPlugins(parseRabbitmqParams({})), '[rabbitmq_mqtt].\n');
  });
  it('adds rabbitmq_management when asked', () => {
    assert.equal(
      renderEnabledPlugins(parseRabbitmqParams({ management: true })),
      '[rabbitmq_management,rabbitmq_mqtt].\n',
    );
  });
});

describe('rabbitmq template: password hash and definitions', () => {
  it('matches the example in RabbitMQ\'s docs (salt 908DC60A, "test12")', () => {
    assert.equal(
      rabbitmqPasswordHash('test12', Buffer.from('908DC60A', 'hex')),
      'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR',
    );
  });

  for (const password of ['secret', 'pässwörd with spaces', '🔑', 'a'.repeat(200)]) {
    it(`hashes ${JSON.stringify(password.slice(0, 20))} so it verifies from its own salt`, () => {
      const hash = rabbitmqPasswordHash(password);
      assert.ok(hashMatches(hash, password));
      assert.ok(!hashMatches(hash, `${password}x`));
    });
  }

  it('salts each hash', () => {
    assert.notEqual(rabbitmqPasswordHash('same'), rabbitmqPasswordHash('same'));
  });

  it('creates the vhost, each user with a hash and full permissions on the vhost', () => {
    const users = [
      { username: 'alice', password: 'a-pass' },
      { username: 'bob', password: 'b-pass' },
    ];
    const defs = JSON.parse(renderDefinitions({ users, vhost: 'iot', tags: ['administrator'] }));
    assert.deepEqual(defs.vhosts, [{ name: 'iot' }]);
    assert.equal(defs.users.length, 2);
    for (const [i, u] of users.entries()) {
      assert.equal(defs.users[i].name, u.username);
      assert.equal(defs.users[i].hashing_algorithm, 'rabbit_password_hashing_sha256');
      assert.deepEqual(defs.users[i].tags, ['administrator']);
      assert.ok(hashMatches(defs.users[i].password_hash, u.password));
      assert.deepEqual(defs.permissions[i], {
        user: u.username,
        vhost: 'iot',
        configure: '.*',
        write: '.*',
        read: '.*',
      });
    }
    assert.ok(!JSON.stringify(defs).includes('a-pass'), 'no plain password on disk');
  });

  it('uses the salt it is given (one per user)', () => {
    const users = [{ username: 'u', password: 'test12' }];
    const defs = JSON.parse(
      renderDefinitions({ users, vhost: '/', tags: [], salt: () => Buffer.from('908DC60A', 'hex') }),
    );
    assert.equal(defs.users[0].password_hash, 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR');
  });
});

describe('rabbitmq template: environment', () => {
  it('keeps every path in the data dir and Erlang on loopback', () => {
    const env = rabbitmqEnv({
      dataDir: '/d',
      distPort: 41000,
      epmdPort: 41001,
    });
    assert.equal(env.HOME, '/d');
    // The same name and database path for every replica (the golden database needs both): the path
    // is the data dir's mnesia/ as seen from the process's working directory, its data dir.
    assert.equal(env.RABBITMQ_NODENAME, 'rabbit@localhost');
    assert.equal(env.RABBITMQ_MNESIA_BASE, '/proc/self/cwd/mnesia');
    for (const key of ['CONFIG_FILE', 'LOG_BASE', 'PID_FILE', 'ENABLED_PLUGINS_FILE', 'CONF_ENV_FILE']) {
      assert.match(env[`RABBITMQ_${key}`] ?? '', /^\/d\//, key);
    }
    assert.equal(env.RABBITMQ_DIST_PORT, '41000');
    assert.equal(env.ERL_EPMD_PORT, '41001');
    assert.equal(env.ERL_EPMD_ADDRESS, '127.0.0.1');
    assert.match(
      env.RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS ?? '',
      /-kernel inet_dist_use_interface \{127,0,0,1\}/,
    );
    assert.match(env.RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS ?? '', /-start_epmd false/);
    assert.equal(env.ERL_ZFLAGS, '-start_epmd false');
  });
});

describe('rabbitmq template: render', () => {
  async function render(over: Partial<RenderContext>) {
    const dataDir = await mkdtemp(join(tmpdir(), 'brokel-rmq-unit-'));
    const asked: string[] = [];
    let next = 42000;
    const ctx: RenderContext = {
      replicaId: 'r1',
      host: '127.0.77.1',
      port: 1883,
      dataDir,
      addressing: 'aliases',
      users: [],
      params: {},
      freePort: async (host) => {
        asked.push(host);
        return next++;
      },
      ...over,
    };
    try {
      const spec = await rabbitmqTemplate.render(ctx);
      const read = (name: string) => readFile(join(dataDir, name), 'utf8');
      const files = { conf: await read('rabbitmq.conf'), defs: JSON.parse(await read('definitions.json')) };
      const cookieMode = (await stat(join(dataDir, '.erlang.cookie'))).mode & 0o777;
      return { spec, asked, files, cookieMode };
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }

  it('aliases: AMQP on 5672, only dist and epmd ports asked for, on 127.0.0.1', async () => {
    const { spec, asked, files, cookieMode } = await render({});
    assert.deepEqual(spec.ports, { amqp: 5672, dist: 42000, epmd: 42001 });
    assert.deepEqual(asked, ['127.0.0.1', '127.0.0.1']);
    assert.equal(spec.command, '/bin/sh');
    assert.equal(spec.args[0], '-c');
    assert.equal(spec.args[3], '/usr/lib/rabbitmq/bin/rabbitmq-server');
    assert.equal(spec.env?.ERL_EPMD_PORT, '42001');
    assert.match(files.conf, /^mqtt\.allow_anonymous = true$/m);
    assert.deepEqual(
      files.defs.users.map((u: { name: string }) => u.name),
      [ANONYMOUS_USER],
    );
    assert.equal(cookieMode, 0o400);
  });

  it('ports with users and management: every port asked for, anonymous refused', async () => {
    const { spec, asked, files } = await render({
      host: '127.0.0.1',
      port: 40000,
      addressing: 'ports',
      users: [{ username: 'alice', password: 'pw' }],
      params: { management: true },
    });
    assert.deepEqual(spec.ports, { amqp: 42000, management: 42001, dist: 42002, epmd: 42003 });
    assert.deepEqual(asked, ['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1']);
    assert.match(files.conf, /^mqtt\.allow_anonymous = false$/m);
    assert.match(files.conf, /^management\.tcp\.port = 42001$/m);
    assert.equal(files.defs.users[0].name, 'alice');
    assert.deepEqual(files.defs.users[0].tags, ['administrator']);
  });

  it('rejects bad params with a ConfigError naming params.<field>', async () => {
    await assert.rejects(render({ params: { vhost: '' } }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /params\.vhost/);
      return true;
    });
  });

  it('rejects a username with a colon (the MQTT plugin reads vhost:user)', async () => {
    await assert.rejects(render({ users: [{ username: 'iot:alice', password: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /brokers\.users\[0\]\.username: "iot:alice" contains ':'/);
      return true;
    });
  });
});
