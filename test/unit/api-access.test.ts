import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { adminToken } from '../../cli/admin-token.ts';
import { parseConfig } from '../../common/config/load.ts';
import { HttpError } from '../../common/errors.ts';
import { cookieValue } from '../../common/http/auth.ts';
import { deploymentAdminToken, keptAdminToken } from '../../manager/admin-token.ts';
import { checkAccess, readsNeedToken, signIn } from '../../manager/api-access.ts';

const TOKEN = 'a-token-of-at-least-16;chars';
const request = (headers: Record<string, string>) =>
  ({ url: '/api/x', headers }) as unknown as IncomingMessage;
const statusOf = (run: () => unknown): number | 'allowed' => {
  try {
    run();
    return 'allowed';
  } catch (err) {
    assert.ok(err instanceof HttpError);
    return err.status;
  }
};

describe('manager API access (pure)', () => {
  it('auto reads need the token off loopback only; open and token are what they say', () => {
    assert.equal(readsNeedToken('auto', '127.0.0.1'), false);
    assert.equal(readsNeedToken('auto', '::1'), false);
    assert.equal(readsNeedToken('auto', '0.0.0.0'), true);
    assert.equal(readsNeedToken('auto', '10.1.2.3'), true);
    assert.equal(readsNeedToken('open', '0.0.0.0'), false);
    assert.equal(readsNeedToken('token', '127.0.0.1'), true);
  });

  it('reads the named cookie among others, and nothing from a missing or oversized header', () => {
    assert.equal(cookieValue('a=1; brokel_admin=xyz; b=2', 'brokel_admin'), 'xyz');
    assert.equal(cookieValue('brokel_admin_x=1', 'brokel_admin'), undefined);
    assert.equal(cookieValue(undefined, 'brokel_admin'), undefined);
    assert.equal(cookieValue(`brokel_admin=${'x'.repeat(9000)}`, 'brokel_admin'), undefined);
  });

  it('writes: 404 without a configured token, 401 without the right one; reads per readAccess', () => {
    const bearer = request({ authorization: `Bearer ${TOKEN}` });
    const cookie = request({ cookie: `brokel_admin=${encodeURIComponent(TOKEN)}` });
    const none = request({});
    assert.equal(
      statusOf(() => checkAccess(bearer, true, false, undefined)),
      404,
    );
    assert.equal(
      statusOf(() => checkAccess(none, true, false, TOKEN)),
      401,
    );
    assert.equal(
      statusOf(() => checkAccess(request({ authorization: 'Bearer nope' }), true, false, TOKEN)),
      401,
    );
    assert.equal(
      statusOf(() => checkAccess(bearer, true, false, TOKEN)),
      'allowed',
    );
    assert.equal(
      statusOf(() => checkAccess(cookie, true, false, TOKEN)),
      'allowed',
    );
    assert.equal(
      statusOf(() => checkAccess(none, false, false, TOKEN)),
      'allowed',
    );
    assert.equal(
      statusOf(() => checkAccess(none, false, true, TOKEN)),
      401,
    );
    assert.equal(
      statusOf(() => checkAccess(request({ cookie: 'brokel_admin=%E0%A4%A' }), false, true, TOKEN)),
      401,
    );
  });

  it('signs a browser in with a percent-encoded HttpOnly SameSite=Strict cookie, only at / with the right token', () => {
    const reply = signIn(new URL(`http://m/?token=${encodeURIComponent(TOKEN)}`), TOKEN);
    assert.ok(reply && 'headers' in reply && reply.headers);
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.location, '/');
    assert.equal(
      reply.headers['set-cookie'],
      `brokel_admin=${encodeURIComponent(TOKEN)}; HttpOnly; SameSite=Strict; Path=/`,
    );
    assert.equal(signIn(new URL('http://m/'), TOKEN), undefined);
    assert.equal(signIn(new URL('http://m/api/status?token=x'), TOKEN), undefined);
    assert.equal(
      statusOf(() => signIn(new URL('http://m/?token=wrong'), TOKEN)),
      401,
    );
    assert.equal(
      statusOf(() => signIn(new URL('http://m/?token=x'), undefined)),
      401,
    );
  });
});

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
