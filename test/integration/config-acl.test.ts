import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startManagerOn } from '../helpers/remote-provider.ts';
import { connectClient, startProvider, within } from '../helpers/resources.ts';

/**
 * brokers.acl in brokel.yaml reaches every Mosquitto replica the manager starts: a publish the ACL
 * denies is refused (v5 PUBACK 0x87), through the manager's own orchestrator, while an allowed one
 * is accepted.
 */
const USER = { username: 'alice', password: 'alice-secret' };

describe('brokers.acl from the config', () => {
  it('a broker the manager started refuses a publish its ACL denies (PUBACK 0x87), accepts an allowed one', async (t) => {
    const provider = await startProvider(t, {}, { users: [USER] });
    await startManagerOn(t, provider, {
      monitor: { intervalSeconds: 0.5, warmupObservations: 1 },
      levels: { brokers: { min: 1, max: 1 }, orchestrators: { min: 1, max: 1 } },
      brokers: { users: [USER], acl: ['user alice', 'topic readwrite open/#', 'topic deny secret/#'] },
    });
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    assert.ok(orchestrator, 'the manager started an orchestrator');
    const client = await connectClient(t, orchestrator.url, {
      ...USER,
      protocolVersion: 5,
      clientId: 'acl-alice',
    });
    const publish = (topic: string) =>
      within(
        new Promise<number>((resolve) =>
          client.publish(topic, 'x', { qos: 1 }, (err, packet) => {
            const code = (err as { code?: number } | undefined)?.code;
            resolve(code ?? (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0);
          }),
        ),
        5_000,
        `the PUBACK for ${topic}`,
      );
    assert.equal(await publish('open/1'), 0, 'an allowed publish is accepted');
    assert.equal(await publish('secret/1'), 0x87, 'a denied publish gets 0x87 Not authorized');
  });
});
