// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { DesiredBroker } from '../../common/admin/contract.ts';
import type { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { waitFor } from '../helpers/resources.ts';

const synced = (o: Orchestrator, url: string) =>
  o.status().brokers.find((b) => b.url === url)?.synced === true;

/** A pool of one active broker that does not answer (SIGSTOP), then a second broker joins. */
async function joinBesideStoppedSource(t: TestContext, source: Partial<DesiredBroker>) {
  const stopped = await TestMosquitto.start(t);
  const joining = await TestMosquitto.start(t);
  const { orchestrator } = await startOrchestrator(t, [stopped.url]);
  const active = { url: stopped.url, state: 'active' as const, ...source };
  orchestrator.setBrokers([active]);
  stopped.child?.kill('SIGSTOP');
  orchestrator.setBrokers([active, { url: joining.url, state: 'joining' }]);
  // Called by the test before its teardown: a stopped Mosquitto would not end on the SIGTERM of its stop().
  const resume = () => void stopped.child?.kill('SIGCONT');
  return { orchestrator, joining, resume };
}

/**
 * A joining broker is synced on a replica once the replica has replayed the away sessions' records
 * from the pool's session registry (docs/persistent-sessions.md). A broker that lists no retained
 * message to a wildcard subscription (RabbitMQ 3.10: the manager sends `retainedWildcardRead: false`
 * from its template) is not read: it would answer with nothing, and a saturated one not even the
 * reader's CONNECT, which held the first RabbitMQ join of s2-rabbitmq for 3 × 5 s (16.5 s measured).
 * A stopped Mosquitto stands in for the saturated broker here.
 */
describe('join replay: which brokers the session registry is read from', () => {
  it('a broker flagged retainedWildcardRead: false is not read: the joining broker is synced at once', async (t) => {
    const { orchestrator, joining, resume } = await joinBesideStoppedSource(t, {
      retainedWildcardRead: false,
    });
    try {
      const started = Date.now();
      await waitFor(() => synced(orchestrator, joining.url), 3000, 'the joining broker synced');
      t.diagnostic(`synced after ${Date.now() - started} ms`);
    } finally {
      resume();
    }
  });

  it('control: a readable source that does not answer holds the join (the reader waits for its CONNACK)', async (t) => {
    const { orchestrator, joining, resume } = await joinBesideStoppedSource(t, {});
    try {
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(synced(orchestrator, joining.url), false, 'not synced while its registry read waits');
    } finally {
      resume();
    }
  });
});
