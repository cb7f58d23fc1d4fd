// test-lanes: shared
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { dig, startTestDns } from '../helpers/dns.ts';
import { startManager } from '../helpers/manager.ts';
import { startTestManagerApi } from '../helpers/manager-api.ts';
import { defer } from '../helpers/remote-provider.ts';
import { connectClient } from '../helpers/resources.ts';

const TOKEN = 'manager-test-token-0123456789';
/** Where the screenshot goes (gitignored). */
const OUTPUT = join(import.meta.dirname, '..', '..', 'test-output');
/** FIELD-NOTES: Debian's chromium, no sandbox, no network chatter at start. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** The page's DOM as the function run in the browser sees it (the test compiles without the DOM lib). */
declare const document: {
  querySelectorAll(selector: string): { length: number };
  body: { dataset: Record<string, string | undefined> };
};

describe('dashboard: the manager API serves a live page, checked in Chromium', () => {
  it('loads without a console error, shows the running replicas, and a new broker within two observations of the scale-out', async (t) => {
    // A real geo-dns (UDP and TCP on loopback) that the manager registers its orchestrator with.
    const geo = await startTestDns(t, {
      locations: [{ cidr: '10.1.0.0/16', lat: 41.9, lon: 12.5, region: 'rome' }],
    });
    const directory = geo.directory;
    const { manager, topology, config, provider } = await startManager(
      t,
      {
        monitor: { intervalSeconds: 0.5, warmupObservations: 1 },
        levels: { brokers: { min: 1, max: 2 }, orchestrators: { min: 1, max: 1 } },
        dns: { site: { lat: 41.9, lon: 12.5, region: 'rome' } },
        manager: { adminToken: TOKEN, drainQuietSeconds: 0.5 },
      },
      directory,
    );
    const { base } = await startTestManagerApi(t, manager, {
      extra: () => ({ deployment: config.deployment }),
      adminToken: TOKEN,
      dashboard: {
        manager,
        config: () => config,
        orchestratorStatus: (r) => topology.client(r).status(),
        dnsRecords: () => directory.list(),
        dnsAnswers: () => geo.server.metrics.tally.rows(),
      },
    });

    // A light publisher, so the msg/s columns have something to show.
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    assert.ok(orchestrator, 'an orchestrator runs');
    const publisher = await connectClient(t, orchestrator.url);
    const ticker = setInterval(() => publisher.publish('taxi/1', 'x'.repeat(100)), 5);
    t.after(() => clearInterval(ticker));

    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    defer(t, () => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    await page.goto(`${base}/`, { timeout: 10_000 });

    const brokerRows = page.locator('#level-broker tr[data-replica]');
    await brokerRows.first().waitFor({ timeout: 10_000 });
    const [broker] = (await provider.list()).filter((r) => r.level === 'broker');
    assert.ok(broker);
    assert.equal(await brokerRows.count(), 1);
    assert.equal(await page.locator(`#level-broker tr[data-replica="${broker.id}"]`).count(), 1);
    await page
      .locator(`#orchestrators tr[data-orchestrator="${orchestrator.id}"]`)
      .waitFor({ timeout: 5000 });
    await page.locator('#dns .region').filter({ hasText: 'rome' }).waitFor({ timeout: 5000 });
    // Answers per region: clients asking from Rome (ECS) over UDP and TCP, one from nowhere.
    for (const args of [[], ['+tcp'], [], ['+tcp']])
      await dig(geo.server.port, 'mqtt.brokel.test', 'A', '+subnet=10.1.2.0/24', ...args);
    await dig(geo.server.port, 'mqtt.brokel.test', 'A', '+noedns');
    const romeRow = page.locator('#dns .answers tr[data-client-region="rome"]');
    await romeRow.filter({ hasText: `${orchestrator.id} ×4` }).waitFor({ timeout: 5000 });
    await page
      .locator('#dns .answers tr[data-client-region="unknown"]')
      .filter({ hasText: `${orchestrator.id} ×1` })
      .waitFor({ timeout: 5000 });

    // Scaling needs the admin token.
    const refused = await fetch(`${base}/api/scale`, {
      method: 'POST',
      body: JSON.stringify({ level: 'brokers', target: 2 }),
    });
    assert.equal(refused.status, 401);
    const scale = (target: number | 'auto') =>
      fetch(`${base}/api/scale`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ level: 'brokers', target }),
      });
    const outside = await scale(3);
    assert.equal(outside.status, 400, 'a target above the level max is refused');
    assert.match(
      ((await outside.json()) as { error: string }).error,
      /scale\.brokers: 3 is not an integer within \[1, 2\]/,
    );
    const scaled = await scale(2);
    assert.equal(scaled.status, 200, await scaled.text());

    // The page shows the second broker; the observation it shows then is at most two after the add.
    const shownAt = Number(
      await (
        await page.waitForFunction(
          () =>
            document.querySelectorAll('#level-broker tr[data-replica]').length >= 2 &&
            document.body.dataset.observation,
          undefined,
          { timeout: 20_000, polling: 20 },
        )
      ).jsonValue(),
    );
    const add = manager.decisions.find((d) => d.level === 'broker' && d.action === 'add');
    assert.ok(add, 'the manager decided to add a broker');
    t.diagnostic(
      `add decided at observation ${add.observation}; the page showed the new broker at ${shownAt}`,
    );
    assert.ok(
      shownAt <= add.observation + 2,
      `new broker shown at observation ${shownAt}, the add was at ${add.observation}`,
    );
    // It joins and becomes active; the chart marks the add, the list names the reason.
    await page
      .locator('#level-broker tr[data-replica][data-state="ready"]')
      .nth(1)
      .waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('#level-broker svg .mark.add').count(), 1);
    assert.match((await page.locator('#decisions').textContent()) ?? '', /manual target 2/);
    await page.locator('#brokers tbody tr').nth(1).waitFor({ timeout: 5000 });

    // Back to the policy: the manual target is gone from the status.
    assert.equal((await scale('auto')).status, 200);
    assert.equal((await manager.status()).levels[0]?.manualTarget, undefined);

    await mkdir(OUTPUT, { recursive: true });
    const file = join(OUTPUT, 'dashboard.png');
    await page.screenshot({ path: file, fullPage: true });
    t.diagnostic(`screenshot: ${file}`);
    assert.deepEqual(problems, [], 'no console error on the page');
  });
});
