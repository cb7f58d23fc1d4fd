// test-timeout-ms: 360000
// test-lanes: shared
// These two (chaos and soak, 2 minutes each) form a group of their own and run side by side: neither
// measures CPU or latency (the soak sets its rate from the capacity it measures first), and both passed
// beside each other and three 10-minute chaos seeds at load average 7.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QUICK_SCHEDULE, runChaos } from '../../workload/chaos/run.ts';
import { FAULT_KINDS } from '../../workload/chaos/schedule.ts';

/**
 * `npm run chaos` at CI size, the 2-minute seed issue 17 asks for (2 minutes of traffic with the quick
 * schedule, so every fault kind fires at least once, most of them several times): the system on the local provider behind
 * relays (2 brokers, 2 orchestrators, 1 s interval, a real `brokel up` process) while MQTT 3.1.1 and 5
 * publishers and clean and persistent subscribers replay the trace at QoS 1 through geo-dns; every
 * fault kind fires once. Nothing acknowledged may be lost, no replica orphaned, no action doubled.
 * The SIGSTOP here (3 s) is shorter than the orchestrators' 30 s upstream keepalive: the long form is
 * `npm run chaos` (50 s). On the code before followRedirects kept subscriptions, this run lost thousands
 * of messages at the clean subscribers after the orchestrator kill; before the upstream link grace
 * (clean-link-reset.test.ts) a link reset could lose a message at a clean subscriber: no loss is tolerated.
 */
describe('npm run chaos (one seed, CI size)', () => {
  it('loses nothing under every fault kind, orphans nothing, doubles no action', async () => {
    const lines: string[] = [];
    const report = await runChaos({
      seed: 17,
      minutes: 2,
      ratePerSecond: 40,
      stopSeconds: 3,
      out: undefined,
      schedule: QUICK_SCHEDULE,
      log: (line) => lines.push(line),
    });
    const detail = `${JSON.stringify(report.delivery.subscribers, null, 1)}\n${report.timeline.join('\n')}`;
    assert.deepEqual(report.failures, [], detail);
    assert.ok(report.delivery.sent >= 1500, `${report.delivery.sent} sent`);
    for (const s of report.delivery.subscribers) assert.ok(s.received > 0, `${s.name} received`);
    const fired = report.timeline.filter((l) => !l.includes('skipped'));
    for (const kind of FAULT_KINDS)
      assert.ok(
        fired.some((l) => l.includes(` ${kind}`)),
        `${kind} fired\n${report.timeline.join('\n')}`,
      );
    const reset = fired.find((l) => l.includes('net-reset'));
    assert.match(reset ?? '', /reset [1-9]\d* links/, 'the relays sit on the orchestrator→broker links');
    assert.ok(
      report.managerStarts >= 2,
      `the manager was killed and restarted (${report.managerStarts} starts)`,
    );
  });
});
