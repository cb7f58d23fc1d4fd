// The CLI's one parser for positive flags (cli/args.ts `positive`), used by calibrate, simulate, scenario,
// scenario matrix and taxi: the value, the fallback when the flag is absent, and a ConfigError naming
// the flag and the value otherwise.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { positive } from '../../cli/args.ts';
import { ConfigError } from '../../common/errors.ts';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('accepted');
}

describe('cli positive flags', () => {
  it('reads numbers and whole numbers, and the fallback only when the flag is absent', () => {
    assert.equal(positive('--rate', '2.5', 'number'), 2.5);
    assert.equal(positive('--records', '200000', 'integer'), 200_000);
    assert.equal(positive('--port', undefined, 'integer', 1883), 1883);
    assert.equal(positive('--port', '8883', 'integer', 1883), 8883);
  });

  it('refuses zero, negatives, fractions for integers, non-numbers and a missing value without fallback', () => {
    assert.match(
      refusal(() => positive('--days', '0', 'number')),
      /--days.*"0" is not a positive number/,
    );
    assert.match(
      refusal(() => positive('--cpu', '-1', 'number')),
      /"-1" is not a positive number/,
    );
    assert.match(
      refusal(() => positive('--max-brokers', '2.5', 'integer')),
      /"2.5" is not a positive integer/,
    );
    assert.match(
      refusal(() => positive('--peak', 'lots', 'number')),
      /"lots" is not a positive number/,
    );
    assert.match(
      refusal(() => positive('--rate', 'Infinity', 'number')),
      /is not a positive number/,
    );
    assert.match(
      refusal(() => positive('--records', undefined, 'integer')),
      /--records.*is not a positive integer/,
    );
  });
});
