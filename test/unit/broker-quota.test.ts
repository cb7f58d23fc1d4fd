import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig, validate } from '../../common/config/load.ts';
import { configSchema } from '../../common/config/schema.ts';
import { brokerParams } from '../../manager/broker-params.ts';
import { brokerCpuQuota } from '../../manager/broker-quota.ts';
import { problemsOf } from '../helpers/config.ts';

describe('levels.brokers.cpuQuotaByTemplate', () => {
  it('gives each template of a mixed pool its own quota, the level quota to the others', () => {
    const config = validate(configSchema, {
      levels: {
        brokers: {
          template: ['mosquitto', 'rabbitmq'],
          cpuQuota: 0.05,
          cpuQuotaByTemplate: { rabbitmq: 0.25 },
        },
      },
    });
    assert.equal(brokerCpuQuota(config.levels.brokers, 'mosquitto'), 0.05);
    assert.equal(brokerCpuQuota(config.levels.brokers, 'rabbitmq'), 0.25);
    assert.equal(brokerCpuQuota(validate(configSchema, {}).levels.brokers, 'rabbitmq'), 0.25);
  });

  it('refuses a quota that is not a positive number of cores', () => {
    assert.throws(
      () => validate(configSchema, { levels: { brokers: { cpuQuotaByTemplate: { rabbitmq: 0 } } } }),
      /levels\.brokers\.cpuQuotaByTemplate\.rabbitmq/,
    );
  });
});

const USERS = 'users: [{ username: alice, password: pw }]';

describe('brokers.acl and brokers.topicPermissions', () => {
  it('each template gets its own param; the reserved space stays usable under an ACL', () => {
    const config = parseConfig(
      `levels: { brokers: { template: [mosquitto, rabbitmq] } }\n` +
        `brokers: { ${USERS}, acl: ['user alice', 'topic read a/#'], ` +
        `topicPermissions: [{ user: alice, write: '^a\\.', read: '.*' }] }\n`,
      'test.yaml',
    );
    assert.deepEqual(brokerParams(config.brokers, 'mosquitto'), {
      acl: ['pattern readwrite $brokel/#', 'user alice', 'topic read a/#'],
    });
    assert.deepEqual(brokerParams(config.brokers, 'rabbitmq'), {
      topicPermissions: [{ user: 'alice', write: '^a\\.', read: '.*' }],
    });
    assert.deepEqual(brokerParams(parseConfig('', 'test.yaml').brokers, 'mosquitto'), {}, 'none: no params');
  });

  it('clear errors: a multi-line ACL entry, an unknown user, a template the pool does not use', () => {
    assert.deepEqual(problemsOf(`brokers: { acl: ["topic read a\\ntopic write b"] }\n`), [
      'brokers.acl[0]: "topic read a\\ntopic write b" is not one line',
    ]);
    assert.deepEqual(
      problemsOf(
        `levels: { brokers: { template: rabbitmq } }\n` +
          `brokers: { ${USERS}, topicPermissions: [{ user: bob, write: '', read: '' }] }\n`,
      ),
      ['brokers.topicPermissions[0].user: "bob" is not one of brokers.users'],
    );
    assert.deepEqual(problemsOf(`brokers: { topicPermissions: [] }\n`), [
      'brokers.topicPermissions: is for the rabbitmq template, and levels.brokers.template (mosquitto) has none',
    ]);
  });
});
