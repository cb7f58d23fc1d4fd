// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { startManager } from '../helpers/manager.ts';
import { startTestManagerApi } from '../helpers/manager-api.ts';
import { defer } from '../helpers/remote-provider.ts';

const TOKEN = 'manager-test-token-0123456789';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];

/** The page's DOM as the function run in the browser sees it (the test compiles without the DOM lib). */
declare const document: { querySelectorAll(selector: string): { length: number } };

describe('manager API access: the admin token guards writes, and reads when api.readAccess says so', () => {
  it('readAccess token: reads are 401 without the token, open with it as a bearer, and a browser signs in once with /?token= (Chromium, live events through the cookie)', async (t) => {
    const { manager, topology, config } = await startManager(t, {
      monitor: { intervalSeconds: 0.5, warmupObservations: 1 },
      levels: { brokers: { min: 1, max: 1 }, orchestrators: { min: 1, max: 1 } },
      manager: { adminToken: TOKEN },
    });
    const { base } = await startTestManagerApi(t, manager, {
      extra: () => ({ deployment: config.deployment }),
      adminToken: TOKEN,
      readAccess: 'token',
      dashboard: {
        manager,
        config: () => config,
        orchestratorStatus: (r) => topology.client(r).status(),
      },
    });
    const bearer = { authorization: `Bearer ${TOKEN}` };

    for (const path of ['/api/status', '/metrics', '/api/dashboard', '/api/prometheus/targets', '/']) {
      const refused = await fetch(`${base}${path}`);
      assert.equal(refused.status, 401, `${path} without a token`);
      assert.match(refused.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
      await refused.body?.cancel();
      const wrong = await fetch(`${base}${path}`, {
        headers: { authorization: 'Bearer not-the-token-000000' },
      });
      assert.equal(wrong.status, 401, `${path} with a wrong token`);
      await wrong.body?.cancel();
    }
    const status = await fetch(`${base}/api/status`, { headers: bearer });
    assert.equal(status.status, 200);
    assert.ok(Array.isArray(((await status.json()) as { levels: unknown[] }).levels));
    const metrics = await fetch(`${base}/metrics`, { headers: bearer });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^brokel_/m);

    const badSignIn = await fetch(`${base}/?token=not-the-token-000000`, { redirect: 'manual' });
    assert.equal(badSignIn.status, 401);
    assert.equal(badSignIn.headers.get('set-cookie'), null);
    await badSignIn.body?.cancel();

    // Writes: the token, whatever readAccess says.
    const rebalanceRefused = await fetch(`${base}/api/rebalance`, { method: 'POST' });
    assert.equal(rebalanceRefused.status, 401);
    await rebalanceRefused.body?.cancel();

    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    defer(t, () => browser.close());
    const stranger = await browser.newPage();
    const strangerAnswer = await stranger.goto(`${base}/`, { timeout: 10_000 });
    assert.equal(strangerAnswer?.status(), 401, 'a browser without the cookie');
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${base}/?token=${encodeURIComponent(TOKEN)}`, { timeout: 10_000 });
    assert.equal(new URL(page.url()).search, '', 'the token left the address bar');
    assert.equal(new URL(page.url()).pathname, '/');
    // The page's snapshot and its server-sent events ride on the cookie: the replicas appear.
    await page.waitForFunction(
      () => document.querySelectorAll('#level-broker tr[data-replica]').length >= 1,
      undefined,
      {
        timeout: 15_000,
      },
    );
    const cookies = await page.context().cookies(base);
    const cookie = cookies.find((c) => c.name === 'brokel_admin');
    assert.ok(cookie, 'the sign-in cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
  });

  it('readAccess auto on loopback: reads are open, POST /api/rebalance needs the token, and without a configured token there is no write route', async (t) => {
    const { manager, config } = await startManager(t, {
      levels: { brokers: { min: 1, max: 1 }, orchestrators: { min: 1, max: 1 } },
      manager: { adminToken: TOKEN },
    });
    const start = async (adminToken: string | undefined) => {
      const { base } = await startTestManagerApi(t, manager, {
        extra: () => ({ deployment: config.deployment }),
        ...(adminToken ? { adminToken } : {}),
      });
      return base;
    };
    const base = await start(TOKEN);
    const open = await fetch(`${base}/api/status`);
    assert.equal(open.status, 200);
    await open.body?.cancel();
    const refused = await fetch(`${base}/api/rebalance`, { method: 'POST' });
    assert.equal(refused.status, 401);
    assert.match(((await refused.json()) as { error: string }).error, /admin token/);
    const accepted = await fetch(`${base}/api/rebalance`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(accepted.status, 202, await accepted.text());

    const tokenless = await start(undefined);
    const none = await fetch(`${tokenless}/api/rebalance`, { method: 'POST' });
    assert.equal(none.status, 404);
    await none.body?.cancel();
  });
});
