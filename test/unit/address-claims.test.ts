import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { AddressClaims } from '../../manager/providers/local/address-pool.ts';

// The claims folder is shared by every provider on the machine (two CI lanes, two deployments); the
// last release removes it. A claim racing that removal once failed with ENOENT (CI, session 8).
it('claims and releases on a shared folder, while others empty and remove it, never fail', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'claims-race-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const dir = join(base, 'claims');
  const owners = [0, 1, 2, 3].map(() => new AddressClaims(dir));
  const errors: string[] = [];
  await Promise.all(
    owners.map(async (claims, i) => {
      for (let round = 0; round < 150; round++) {
        const key = `127.9.${i}.${round % 7}`;
        try {
          assert.equal(await claims.claim(key), true, `${key} is claimed by nobody else`);
          await claims.release(key);
        } catch (err) {
          errors.push(`${key}: ${(err as Error).message}`);
        }
      }
    }),
  );
  assert.deepEqual(errors.slice(0, 3), [], `${errors.length} of 600 claims failed`);
  assert.equal(existsSync(dir), false, 'the last release removed the folder');
});

it("a claim held by a live process is refused; a dead owner's is taken over", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'claims-owner-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const claims = new AddressClaims(dir);
  assert.equal(await claims.claim('127.9.9.1'), true);
  assert.equal(await claims.claim('127.9.9.1'), false, 'held by this (live) process');
  await claims.adopt('127.9.9.2', 2 ** 22 + 12345); // a PID above the kernel's pid_max: not alive
  assert.equal(await claims.claim('127.9.9.2'), true, 'stale claim taken over');
});
