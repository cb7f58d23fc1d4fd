import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { firstClosedFolder, lookupUser, maySearch, type OsUser } from '../../common/os-user.ts';

const service: OsUser = { uid: 100, gid: 200, groups: [300] };

describe('who may cross a folder', () => {
  it('the first class the user is in decides, as the kernel does', () => {
    // Owner: only the owner's bit counts, even when others may.
    assert.equal(maySearch(service, { uid: 100, gid: 0, mode: 0o700 }), true);
    assert.equal(maySearch(service, { uid: 100, gid: 0, mode: 0o077 }), false);
    // Group (primary or supplementary): only the group's bit.
    assert.equal(maySearch(service, { uid: 0, gid: 200, mode: 0o710 }), true);
    assert.equal(maySearch(service, { uid: 0, gid: 300, mode: 0o710 }), true);
    assert.equal(maySearch(service, { uid: 0, gid: 300, mode: 0o701 }), false);
    // Others.
    assert.equal(maySearch(service, { uid: 0, gid: 0, mode: 0o701 }), true);
    assert.equal(maySearch(service, { uid: 0, gid: 0, mode: 0o770 }), false);
    assert.equal(
      maySearch(service, { uid: 0, gid: 0, mode: 0o40755 }),
      true,
      'the file-type bits are ignored',
    );
    // Read without execute does not let anyone cross.
    assert.equal(maySearch(service, { uid: 0, gid: 0, mode: 0o744 }), false);
    assert.equal(maySearch({ uid: 0, gid: 0, groups: [] }, { uid: 5, gid: 5, mode: 0o700 }), true, 'root');
  });

  it('reads a user and its supplementary groups from passwd and group files', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'brokel-os-user-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const passwd = join(dir, 'passwd');
    const group = join(dir, 'group');
    await writeFile(
      passwd,
      'root:x:0:0:root:/root:/bin/bash\nmosquitto:x:101:102::/var/lib/mosquitto:/usr/sbin/nologin\n',
    );
    await writeFile(
      group,
      'root:x:0:\nmosquitto:x:102:\nssl-cert:x:110:postgres,mosquitto\nadm:x:4:syslog\n',
    );
    assert.deepEqual(lookupUser('mosquitto', passwd, group), { uid: 101, gid: 102, groups: [110] });
    assert.deepEqual(lookupUser('root', passwd, group), { uid: 0, gid: 0, groups: [] });
    assert.equal(lookupUser('nobody-here', passwd, group), undefined);
    assert.deepEqual(lookupUser('root', passwd, join(dir, 'missing')), { uid: 0, gid: 0, groups: [] });
  });

  it('names the first folder above a tree that the user may not cross', async (t) => {
    const base = await mkdtemp(join(tmpdir(), 'brokel-os-user-'));
    t.after(() => rm(base, { recursive: true, force: true }));
    const closed = join(base, 'closed');
    const tree = join(closed, 'open', 'data');
    await mkdir(tree, { recursive: true, mode: 0o755 });
    await chmod(base, 0o755);
    await chmod(closed, 0o750);
    // A user in none of the folders' classes: only the others' bits count.
    const stranger: OsUser = { uid: 4_000_000, gid: 4_000_000, groups: [] };
    const found = await firstClosedFolder(tree, stranger);
    assert.equal(found?.path, closed);
    assert.equal((found?.mode ?? 0) & 0o777, 0o750);
    await chmod(closed, 0o711);
    assert.equal(await firstClosedFolder(tree, stranger), undefined, 'crossing needs execute, not read');
    // The tree itself is not asked: the caller hands it over.
    await chmod(tree, 0o700);
    assert.equal(await firstClosedFolder(tree, stranger), undefined);
  });
});
