import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import {
  REFERENCE_FILE,
  renderConfigReference,
  schemaComments,
} from '../../scripts/docs/config-reference.ts';
import { METRICS_FILE, renderMetricsReference } from '../../scripts/docs/metrics-reference.ts';

describe('generated docs: docs/configuration.md (zod schema) and docs/metrics.md (registries)', () => {
  it('is up to date with common/config/schema.ts (else: npm run docs:config)', async () => {
    const committed = await readFile(REFERENCE_FILE, 'utf8');
    assert.ok(
      committed === (await renderConfigReference()),
      'docs/configuration.md is stale: run npm run docs:config',
    );
  });

  it('takes each field’s description from the /** */ comment above it, at its path in brokel.yaml', () => {
    const comments = schemaComments(`
      const levelBase = {
        /** Scale in below. */
        lower: x,
      };
      export const configSchema = z.strictObject({
        api: z.strictObject({
          /** Where. */
          listen: y,
        }),
      });`);
    assert.deepEqual(Object.fromEntries(comments), {
      'levels.brokers.lower': 'Scale in below.',
      'levels.orchestrators.lower': 'Scale in below.',
      'api.listen': 'Where.',
    });
    assert.throws(() => schemaComments('const other = {\n  /** x */\n  a: 1,\n};'), /add other to ROOTS/);
  });

  it('docs/metrics.md is up to date with the registries (else: npm run docs:metrics)', async () => {
    const committed = await readFile(METRICS_FILE, 'utf8');
    assert.ok(committed === renderMetricsReference(), 'docs/metrics.md is stale: run npm run docs:metrics');
  });
});
