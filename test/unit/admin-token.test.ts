import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { adminToken } from '../../cli/admin-token.ts';
import { parseConfig } from '../../common/config/load.ts';
import { deploymentAdminToken, keptAdminToken } from '../../manager/admin-token.ts';

describe('the admin token kept in the state dir', () => {
  it('the CLI finds the token the manager wrote, and ignores one the manager would not use', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'brokel-token-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const config = parseConfig(`provider: { kind: local, local: { stateDir: ${dir} } }\n`, 'test.yaml');
    assert.equal(await keptAdminToken(dir), undefined);
    const written = await deploymentAdminToken(undefined, dir);
    assert.equal(await keptAdminToken(dir), written);
    assert.equal(await adminToken(config, undefined), written);
    await writeFile(join(dir, 'admin-token'), 'short\n');
    assert.equal(
      await keptAdminToken(dir),
      undefined,
      'a short token is replaced by the manager, so not sent',
    );
  });
});
