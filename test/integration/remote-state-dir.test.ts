// test-lanes: shared
import assert from 'node:assert/strict';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crossableTempDir, isRoot } from '../../common/os-user.ts';
import { remoteStateDir } from '../../manager/providers/create-provider.ts';
import { connectClient, startProvider } from '../helpers/resources.ts';

const USER = { username: 'alice', password: 'alice-secret' };

/**
 * A remote provider's state folder (kubernetes, opennebula) made first on a machine must not make the
 * shared `brokel` folder private: a local deployment's Mosquitto under it reads its password file after
 * dropping to the `mosquitto` user (run as root), and failed to start with "Unable to open pwfile"
 * (seen in CI, where a remote-provider test happened to make /tmp/brokel before any local one).
 */
describe("a remote provider's state folder", () => {
  it('is private, its shared parent is not, and a local Mosquitto with users starts under it', async (t) => {
    // It stands for /tmp, which every user may cross.
    const base = await crossableTempDir('brokel-state-');
    t.after(() => rm(base, { recursive: true, force: true }));
    const shared = join(base, 'brokel');
    const remote = await remoteStateDir('remote-deployment', shared);
    assert.equal(remote, join(shared, 'remote-deployment'));
    assert.equal((await stat(remote)).mode & 0o777, 0o700, 'the deployment folder holds its admin token');
    assert.equal((await stat(shared)).mode & 0o001, 0o001, 'others may cross the shared folder');

    const provider = await startProvider(
      t,
      { stateDir: join(shared, 'local-deployment') },
      { users: [USER] },
    );
    const created = await provider.create('broker', 'mosquitto');
    const broker = await provider.waitReady(created.id, 10_000);
    const client = await connectClient(t, broker.url, { username: USER.username, password: USER.password });
    assert.equal(client.connected, true);
    if (!isRoot())
      t.diagnostic('not root: Mosquitto keeps its user, so the password file was readable anyway');
  });
});
