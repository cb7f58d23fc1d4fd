// test-timeout-ms: 60000
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { publishSeq, settle, startOrchestrator, tally } from '../helpers/orchestrator.ts';
import { connectClient } from '../helpers/resources.ts';

/**
 * Review finding 5: a broker that was stopped while a client ended its session keeps the old registry
 * record; the client's next clean-0 connect must not restore the subscriptions it ended.
 */
describe('a stale registry record on a broker that missed the end of a session', () => {
  it('does not restore the ended subscriptions when the client resumes with clean 0', async (t) => {
    const [a, b] = await Promise.all([TestMosquitto.start(t), TestMosquitto.start(t)]);
    t.after(() => b.child?.kill('SIGCONT')); // never leave it stopped (stop() then ends it by PID)
    const x = await startOrchestrator(t, [a.url, b.url], { limits: { upstreamConnectTimeoutMs: 1000 } });
    const id = 'stale-rec-1';
    // A persistent session with `old/#`, recorded on A and B; the client leaves.
    const first = await connectClient(t, x.url, { protocolVersion: 4, clean: false, clientId: id });
    await first.subscribeAsync('old/#', { qos: 1 });
    await first.endAsync();
    // B stops; the client ends its session (clean session 1) and leaves: only A hears of it.
    b.child?.kill('SIGSTOP');
    const ender = await connectClient(t, x.url, { protocolVersion: 4, clean: true, clientId: id });
    await ender.endAsync();
    b.child?.kill('SIGCONT');
    // The client comes back with clean 0: it has no subscription; it subscribes to `new/#` only.
    let sessionPresent: boolean | undefined;
    let counts: ReturnType<typeof tally> | undefined;
    const back = await connectClient(t, x.url, { protocolVersion: 4, clean: false, clientId: id }, (c) => {
      counts = tally(c);
      c.once('connect', (ack) => {
        sessionPresent = ack.sessionPresent;
      });
    });
    const old: string[] = [];
    back.on('message', (topic) => topic.startsWith('old/') && old.push(topic));
    await back.subscribeAsync('new/#', { qos: 1 });
    const pub = await connectClient(t, x.url);
    // Round-robin over A and B, three topics in turn: each topic goes through both brokers.
    await publishSeq(pub, 'p', ['new/1', 'old/1', 'old/2'], 60, 1, 10, 15_000);
    await settle([counts as ReturnType<typeof tally>], 20, 1000);
    assert.equal(old.length, 0, `messages on the ended filter old/# reached the client (${old.length})`);
    assert.equal(counts?.distinct, 20, 'every message on new/# arrived');
    assert.equal(sessionPresent, false, 'the session ended: no session present');
  });
});
