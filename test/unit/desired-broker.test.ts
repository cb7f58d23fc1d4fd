import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBrokersBody } from '../../common/admin/schemas.ts';
import { readableSources } from '../../manager/bounded-move.ts';
import { desiredBroker } from '../../manager/desired-broker.ts';
import type { Replica } from '../../manager/providers/cloud-provider.ts';

const replica = (template: string, port: number): Replica => ({
  id: `b-${template}`,
  level: 'broker',
  template,
  host: '127.0.0.1',
  port,
  url: `mqtt://127.0.0.1:${port}`,
  state: 'ready',
  cpuQuota: 0.25,
  createdAt: 0,
  readyAt: 1,
  ports: {},
  failure: undefined,
});

describe('the pool entry the manager sends for a broker (desiredBroker)', () => {
  it("says retainedWildcardRead: false only for a template whose broker cannot list retained messages by '#'", () => {
    assert.deepEqual(desiredBroker(replica('mosquitto', 1883), 'active', false), {
      url: 'mqtt://127.0.0.1:1883',
      state: 'active',
    });
    assert.deepEqual(desiredBroker(replica('rabbitmq', 1884), 'joining', true), {
      url: 'mqtt://127.0.0.1:1884',
      state: 'joining',
      retainedFence: true,
      retainedWildcardRead: false,
    });
    // A template this build does not know is read (as the retained mover does).
    assert.equal(desiredBroker(replica('vernemq', 1885), 'active', false).retainedWildcardRead, undefined);
  });

  it('the orchestrator admin API takes the entries as sent, and refuses a non-boolean flag', () => {
    const pool = [replica('mosquitto', 1883), replica('rabbitmq', 1884)].map((r) =>
      desiredBroker(r, 'active', false),
    );
    assert.deepEqual(parseBrokersBody({ brokers: pool }), pool);
    assert.deepEqual(parseBrokersBody({ brokers: [{ ...pool[0], retainedWildcardRead: true }] }), [pool[0]]);
    assert.throws(
      () => parseBrokersBody({ brokers: [{ ...pool[0], retainedWildcardRead: 'no' }] }),
      /brokers\[0\]\.retainedWildcardRead/,
    );
  });

  it("the retained mover splits its sources by the same rule: only a template known not to list by '#' is unreadable", () => {
    const m = replica('mosquitto', 1883);
    const r = replica('rabbitmq', 1884);
    const v = replica('vernemq', 1885);
    const { readable, unreadable } = readableSources([m, r, v]);
    assert.deepEqual(readable, [m, v]);
    assert.deepEqual(unreadable, [r]);
    // The two places agree broker by broker: the pool entry is flagged exactly when the mover skips it.
    for (const b of [m, r, v])
      assert.equal(desiredBroker(b, 'active', false).retainedWildcardRead === false, unreadable.includes(b));
  });
});
