import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validate } from '../../common/config/load.ts';
import { configSchema } from '../../common/config/schema.ts';
import { brokerCpuQuota } from '../../manager/broker-quota.ts';

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
