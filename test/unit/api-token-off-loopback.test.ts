import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOrchestratorArgs } from '../../cli/orchestrator.ts';
import { parseConfig } from '../../common/config/load.ts';
import { ConfigError } from '../../common/errors.ts';
import { silentLogger } from '../../common/logger.ts';
import { isLoopbackHost } from '../../common/net/loopback.ts';
import { type ManagerApi, startManagerApi } from '../../manager/api-server.ts';
import { type AdminTarget, startAdminServer } from '../../orchestrator/admin/admin-server.ts';
import { problemsOf } from '../helpers/config.ts';

/** The `path: message` lines of the ConfigError a promise or a call rejects with. */
async function refusal(run: () => Promise<unknown> | unknown): Promise<string[]> {
  try {
    await run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('expected a ConfigError, the start was accepted');
}

describe('isLoopbackHost', () => {
  const table: Array<[string, boolean]> = [
    ['127.0.0.1', true],
    ['127.255.3.4', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.9', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['0.0.0.0', false],
    ['::', false],
    ['128.0.0.1', false],
    ['126.255.255.255', false],
    ['10.0.0.1', false],
    ['::2', false],
    ['example.org', false],
    ['', false],
  ];
  for (const [host, loopback] of table)
    it(`${JSON.stringify(host)} is ${loopback ? '' : 'not '}loopback`, () => {
      assert.equal(isLoopbackHost(host), loopback);
    });
});

describe('an admin API off loopback needs a token', () => {
  const base = ['--listen', '127.0.0.1:0', '--brokers', 'mqtt://127.0.0.1:1883'];

  it('brokel orchestrator --admin 0.0.0.0:PORT without a token is refused, naming --admin-token', async () => {
    assert.deepEqual(await refusal(() => parseOrchestratorArgs([...base, '--admin', '0.0.0.0:9781'], {})), [
      '--admin-token: is required when --admin (0.0.0.0) is not a loopback address',
    ]);
    assert.deepEqual(await refusal(() => parseOrchestratorArgs([...base, '--admin', '[::]:9781'], {})), [
      '--admin-token: is required when --admin (::) is not a loopback address',
    ]);
  });

  it('accepts a token from the flag or BROKEL_ADMIN_TOKEN, and loopback without one', () => {
    const flag = parseOrchestratorArgs([...base, '--admin', '0.0.0.0:1', '--admin-token', 'sekrit'], {});
    assert.equal(flag.adminToken, 'sekrit');
    const env = parseOrchestratorArgs([...base, '--admin', '0.0.0.0:1'], { BROKEL_ADMIN_TOKEN: 'from-env' });
    assert.equal(env.adminToken, 'from-env');
    for (const admin of ['127.0.0.2:1', '[::1]:1', 'localhost:1'])
      assert.equal(parseOrchestratorArgs([...base, '--admin', admin], {}).adminToken, undefined);
  });

  it('startAdminServer refuses a non-loopback host without a token (before binding anything)', async () => {
    const orchestrator = {} as AdminTarget; // never reached: the check runs before the server exists
    for (const token of [undefined, ''])
      assert.deepEqual(
        await refusal(() =>
          startAdminServer({ orchestrator, host: '0.0.0.0', port: 0, token, log: silentLogger() }),
        ),
        ['token: is required when host (0.0.0.0) is not a loopback address'],
      );
  });
});

describe('the manager API off loopback needs a token', () => {
  it('a config with api.listen off loopback and no manager.adminToken is refused, naming the field', () => {
    assert.deepEqual(problemsOf('api: { listen: "0.0.0.0:9780" }'), [
      'manager.adminToken: is required when api.listen (0.0.0.0:9780) is not a loopback address',
    ]);
    assert.deepEqual(problemsOf('api: { listen: "[::]:9780" }'), [
      'manager.adminToken: is required when api.listen ([::]:9780) is not a loopback address',
    ]);
    const ok = parseConfig('api: { listen: "0.0.0.0:9780" }\nmanager: { adminToken: "0123456789abcdef" }');
    assert.equal(ok.api.listen, '0.0.0.0:9780');
    assert.equal(parseConfig('api: { listen: "[::1]:9780" }').manager.adminToken, undefined);
  });

  it('startManagerApi refuses a non-loopback host without a token (before binding anything)', async () => {
    type Options = Parameters<typeof startManagerApi>[0];
    // never reached: the check runs before the manager or its metrics are touched
    const options = { manager: {}, metrics: {}, host: '0.0.0.0', port: 0, log: silentLogger() } as Options;
    const start = (): Promise<ManagerApi> => startManagerApi({ ...options, extra: () => ({}) });
    assert.deepEqual(await refusal(start), [
      'manager.adminToken: is required when api.listen (0.0.0.0) is not a loopback address',
    ]);
  });
});
