import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkTemplateNames } from '../../cli/check-templates.ts';
import { parseConfig } from '../../common/config/load.ts';
import { ConfigError } from '../../common/errors.ts';

function problems(yaml: string): string[] {
  try {
    checkTemplateNames(parseConfig(yaml), 'b.yaml');
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

describe('levels.brokers.template names registered broker templates', () => {
  it('accepts mosquitto, rabbitmq and a list of them', () => {
    assert.deepEqual(problems(''), []);
    assert.deepEqual(problems('levels: { brokers: { template: [mosquitto, rabbitmq] } }'), []);
  });
  it('names each unknown or non-broker template by its path', () => {
    assert.deepEqual(problems('levels: { brokers: { template: [mosquitto, orchestrator, kafka] } }'), [
      'levels.brokers.template[1]: orchestrator is a template of the orchestrator level, not the broker level',
      'levels.brokers.template[2]: unknown template "kafka" (known: mosquitto, rabbitmq, orchestrator)',
    ]);
    assert.deepEqual(problems('levels: { brokers: { template: kafka } }'), [
      'levels.brokers.template: unknown template "kafka" (known: mosquitto, rabbitmq, orchestrator)',
    ]);
  });
});
