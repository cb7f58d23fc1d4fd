import assert from 'node:assert/strict';
import { parseConfig } from '../../common/config/load.ts';
import { ConfigError } from '../../common/errors.ts';

/** The `path: problem` lines a YAML config is refused with (fails the test when it is accepted). */
export function problemsOf(yaml: string): string[] {
  try {
    parseConfig(yaml, 'test.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('expected the config to be rejected');
}
