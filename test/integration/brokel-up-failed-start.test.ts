// test-lanes: shared
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { type AddressInfo, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { isRoot } from '../../common/os-user.ts';
import { freePort } from '../../manager/providers/local/address-pool.ts';
import { smallLocalConfig, spawnUp, workDir } from '../helpers/brokel-process.ts';
import { processesOf, within } from '../helpers/resources.ts';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** `brokel up -c FILE` run until it exits (30 s at most): its exit code and what it printed. */
async function upUntilExit(t: TestContext, file: string): Promise<{ code: number | null; out: string }> {
  const { closed, output } = spawnUp(t, file);
  const code = await within(closed, 30_000, 'brokel up to exit');
  return { code, out: output() };
}

describe('brokel up whose deployment cannot start', () => {
  it('exits 1 with the reason, its API closed and nothing of the deployment left, instead of running on', async (t) => {
    if (!isRoot()) {
      t.skip('not root: Mosquitto keeps its user, so a private state folder does not stop it');
      return;
    }
    // workDir is private (mkdtemp): a Mosquitto replica under it is refused (local-provider-guards).
    const dir = await workDir(t, 'brokel-up-fail-');
    const deployment = `upfail${process.pid}`;
    const { file, apiPort } = await smallLocalConfig(dir, deployment, [
      `provider: { kind: local, local: { addressing: ports, stateDir: ${join(dir, 'state')} } }`,
    ]);
    const { code, out } = await upUntilExit(t, file);
    assert.equal(code, 1, out);
    assert.match(out, /brokel: creating a mosquitto replica failed: the mosquitto user cannot reach/);
    assert.ok(out.includes(`chmod o+x ${dir}`), out);
    assert.doesNotMatch(out, /MQTT clients connect to/);
    assert.equal(await refused(apiPort), true, 'the manager API is closed');
    assert.equal(existsSync(join(dir, 'state')), false, 'the state folder went with the deployment');
    assert.deepEqual(processesOf(join(dir, 'state')), [], 'no replica of the deployment runs');
  });

  it('an API address in use: exits 1 naming it, with geo-dns closed and the state folder gone', async (t) => {
    const dir = await workDir(t, 'brokel-up-busy-');
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    t.after(() => busy.close());
    const apiPort = (busy.address() as AddressInfo).port;
    const dnsPort = await freePort('127.0.0.1');
    const file = join(dir, 'brokel.yaml');
    await writeFile(
      file,
      [
        `deployment: upbusy${process.pid}`,
        `manager: { decisionLog: ${join(dir, 'decisions.jsonl')} }`,
        `api: { listen: 127.0.0.1:${apiPort} }`,
        `dns: { listen: 127.0.0.1:${dnsPort} }`,
        `provider: { kind: local, local: { addressing: ports, stateDir: ${join(dir, 'state')} } }`,
        '',
      ].join('\n'),
    );
    const { code, out } = await upUntilExit(t, file);
    assert.equal(code, 1, out);
    assert.match(
      out,
      new RegExp(`brokel: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${apiPort}`),
    );
    assert.equal(await refused(dnsPort), true, 'geo-dns (TCP) is closed');
    assert.equal(existsSync(join(dir, 'state')), false, 'the state folder went with the deployment');
  });
});
