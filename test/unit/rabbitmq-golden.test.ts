import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { keepFirst } from '../../manager/providers/local/rabbitmq-golden-bake.ts';
import { parseRabbitmqParams, renderEnabledPlugins } from '../../templates/rabbitmq/config.ts';
import {
  goldenDir,
  goldenKey,
  goldenRoot,
  NODENAME,
  seedFromGolden,
} from '../../templates/rabbitmq/golden.ts';

async function scratch(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'brokel-golden-unit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A golden database as bakeGolden leaves it: the node's folder with one file in it. */
async function fakeGolden(root: string, key: string): Promise<string> {
  const dir = join(root, key);
  await mkdir(join(dir, NODENAME), { recursive: true });
  await writeFile(join(dir, NODENAME, 'schema.DAT'), 'golden');
  return dir;
}

const MQTT_ONLY = renderEnabledPlugins(parseRabbitmqParams({}));

describe('rabbitmq template: the golden database', () => {
  it('is keyed by the installed RabbitMQ and Erlang/OTP versions, and absent without them', async (t) => {
    const dir = await scratch(t);
    const lib = join(dir, 'lib');
    const releases = join(dir, 'releases');
    assert.equal(goldenKey(lib, releases), undefined, 'nothing installed');
    await mkdir(join(lib, 'rabbitmq_server-3.10.8'), { recursive: true });
    assert.equal(goldenKey(lib, releases), undefined, 'no Erlang');
    await mkdir(join(releases, '25'), { recursive: true });
    await writeFile(join(releases, '25', 'OTP_VERSION'), '25.2.3\n');
    await writeFile(join(releases, 'RELEASES'), 'not a release folder');
    assert.equal(goldenKey(lib, releases), '3.10.8-otp25.2.3');
  });

  it('lives in BROKEL_CACHE_DIR, else XDG_CACHE_HOME, else ~/.cache', () => {
    assert.equal(goldenRoot({ BROKEL_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' }), '/c/rabbitmq-golden');
    assert.equal(goldenRoot({ XDG_CACHE_HOME: '/x' }), '/x/brokel/rabbitmq-golden');
    assert.match(goldenRoot({}), /\/\.cache\/brokel\/rabbitmq-golden$/);
  });

  it('is found only once made (its node folder exists)', async (t) => {
    const root = await scratch(t);
    assert.equal(goldenDir(root, '3.10.8-otp25.2.3'), undefined);
    await mkdir(join(root, '3.10.8-otp25.2.3'));
    assert.equal(goldenDir(root, '3.10.8-otp25.2.3'), undefined, 'an empty folder is not a database');
    const made = await fakeGolden(root, '3.10.8-otp25.2.3');
    assert.equal(goldenDir(root, '3.10.8-otp25.2.3'), made);
    assert.equal(goldenDir(root, undefined), undefined, 'no RabbitMQ installed');
  });

  it('is copied into a new replica’s data dir, never over a database it has, nor for other plugins', async (t) => {
    const root = await scratch(t);
    const golden = await fakeGolden(root, 'k');
    const fresh = join(root, 'fresh');
    await mkdir(fresh);
    assert.equal(await seedFromGolden(fresh, MQTT_ONLY, golden), true);
    assert.equal(await readFile(join(fresh, 'mnesia', NODENAME, 'schema.DAT'), 'utf8'), 'golden');
    assert.deepEqual(readdirSync(fresh), ['mnesia'], 'no copy left aside');

    // A replica booting again keeps its own database.
    await writeFile(join(fresh, 'mnesia', NODENAME, 'schema.DAT'), 'its own');
    assert.equal(await seedFromGolden(fresh, MQTT_ONLY, golden), false);
    assert.equal(await readFile(join(fresh, 'mnesia', NODENAME, 'schema.DAT'), 'utf8'), 'its own');

    // The management plugin was not in the golden node: such a replica boots from an empty database.
    const managed = join(root, 'managed');
    await mkdir(managed);
    const withManagement = renderEnabledPlugins(parseRabbitmqParams({ management: true }));
    assert.equal(await seedFromGolden(managed, withManagement, golden), false);
    assert.equal(existsSync(join(managed, 'mnesia')), false);

    // No golden database made on this machine: as before.
    const plain = join(root, 'plain');
    await mkdir(plain);
    assert.equal(await seedFromGolden(plain, MQTT_ONLY, undefined), false);
    assert.equal(existsSync(join(plain, 'mnesia')), false);
  });
});

describe('rabbitmq golden bake: two bakes at once', () => {
  it('the first database moved into place stays; the second is left for its bake to remove', async (t) => {
    const root = await scratch(t);
    const final = join(root, 'k');
    for (const name of ['first', 'second']) {
      await mkdir(join(root, name, NODENAME), { recursive: true });
      await writeFile(join(root, name, NODENAME, 'schema.DAT'), name);
    }
    assert.equal(await keepFirst(join(root, 'first'), final), true);
    assert.equal(await keepFirst(join(root, 'second'), final), false);
    assert.equal(await readFile(join(final, NODENAME, 'schema.DAT'), 'utf8'), 'first');
    assert.equal(existsSync(join(root, 'second', NODENAME)), true, 'left where it was');
    await assert.rejects(keepFirst(join(root, 'gone'), join(root, 'other')), /ENOENT/);
  });
});
