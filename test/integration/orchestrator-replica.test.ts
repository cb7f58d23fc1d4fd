// test-lanes: shared
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ORCHESTRATOR_ENV } from '../../templates/orchestrator/process-env.ts';
import { publishSeq, settle, subscriber } from '../helpers/orchestrator.ts';
import { connectClient, pidAlive, startProvider } from '../helpers/resources.ts';

const TOKEN = 'test-token-0123456789abcdef';

describe('orchestrator replicas through the local provider', () => {
  it('starts an orchestrator replica on its own address, ready once its token-protected /healthz answers', async (t) => {
    const provider = await startProvider(t);
    const broker = await provider.waitReady((await provider.create('broker', 'mosquitto')).id, 10_000);
    const created = await provider.create('orchestrator', 'orchestrator', {
      params: { brokers: [broker.url], adminToken: TOKEN },
    });
    const orch = await provider.waitReady(created.id, 30_000);
    assert.equal(orch.level, 'orchestrator');
    assert.equal(orch.port, 1883);
    assert.equal(orch.ports.admin, 9781);
    const admin = `http://${orch.host}:${orch.ports.admin}`;
    assert.equal((await fetch(`${admin}/status`)).status, 401);
    const status = (await (
      await fetch(`${admin}/status`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as {
      brokers: Array<{ url: string }>;
    };
    assert.equal(status.brokers[0]?.url, broker.url);
    const sub = await subscriber(t, orch.url, 'rep/#', 1);
    const pub = await connectClient(t, orch.url);
    await publishSeq(pub, 'p', ['rep/1'], 50, 1);
    await settle([sub.counts], 50);
    assert.equal(sub.counts.distinct, 50);
    const pid = provider.details(created.id)?.pid ?? -1;
    // The replica's own environment (process-env.ts) reached the node process through the shell wrapper.
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    for (const [name, value] of Object.entries(ORCHESTRATOR_ENV))
      assert.ok(environ.includes(`${name}=${value}`), name);
    await provider.destroy(created.id);
    assert.equal(pidAlive(pid), false);
  });

  it('refuses an orchestrator without brokers or token, naming the param', async (t) => {
    const provider = await startProvider(t);
    await assert.rejects(
      provider.create('orchestrator', 'orchestrator', { params: {} }),
      /params\.brokers: expected array/,
    );
    await assert.rejects(
      provider.create('orchestrator', 'orchestrator', {
        params: { brokers: ['mqtt://127.0.0.1:1'], adminToken: 'short' },
      }),
      /params\.adminToken: "short" is below 16/,
    );
  });
});
