// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { IClientOptions, MqttClient } from 'mqtt';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { publishSeq, settle, startOrchestrator, type Tally, tally } from '../helpers/orchestrator.ts';
import { connectClient } from '../helpers/resources.ts';

/** How the client ends its session while broker B is stopped (only A hears of it). */
const ENDINGS: Array<{
  name: string;
  options: IClientOptions;
  end(t: TestContext, url: string, c: MqttClient): Promise<void>;
}> = [
  {
    name: '3.1.1 CONNECT with clean session 1 [MQTT-3.1.2-6]',
    options: { protocolVersion: 4, clean: false },
    end: async (t, url, c) => {
      await c.endAsync();
      const ender = await connectClient(t, url, {
        protocolVersion: 4,
        clean: true,
        clientId: c.options.clientId,
      });
      await ender.endAsync();
    },
  },
  {
    name: '5.0 DISCONNECT with Session Expiry Interval 0 (§3.14.2.2.2)',
    options: { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 } },
    end: (_t, _url, c) =>
      new Promise<void>((resolve) =>
        c.end(false, { properties: { sessionExpiryInterval: 0 } }, () => resolve()),
      ),
  },
];

/**
 * Review finding 5: a broker that was stopped while a client ended its session keeps the old registry
 * record (and, for a resumed session, its own session of the client); the client's next clean-0
 * connect must not restore the subscriptions it ended, nor say session present.
 */
describe('a stale registry record on a broker that missed the end of a session', () => {
  for (const ending of ENDINGS) {
    it(`ended by ${ending.name}: the resumed client gets nothing on the ended filter`, async (t) => {
      const [a, b] = await Promise.all([TestMosquitto.start(t), TestMosquitto.start(t)]);
      t.after(() => b.child?.kill('SIGCONT')); // never left stopped (stop() then ends it by PID)
      const x = await startOrchestrator(t, [a.url, b.url], { limits: { upstreamConnectTimeoutMs: 1000 } });
      const options = { ...ending.options, clientId: `stale-rec-${ending.options.protocolVersion}` };
      // A persistent session with `old/#`, recorded on A and B; the client leaves.
      const first = await connectClient(t, x.url, options);
      await first.subscribeAsync('old/#', { qos: 1 });
      await first.endAsync();
      // B stops; the client comes back (B out of reach) and ends its session: only A hears of it.
      b.child?.kill('SIGSTOP');
      await ending.end(t, x.url, await connectClient(t, x.url, options));
      b.child?.kill('SIGCONT');
      // The client comes back with clean 0: it has no subscription; it subscribes to `new/#` only.
      let sessionPresent: boolean | undefined;
      let counts: Tally | undefined;
      const back = await connectClient(t, x.url, options, (c) => {
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
      await settle([counts as Tally], 20, 1000);
      assert.equal(old.length, 0, `messages on the ended filter old/# reached the client (${old.length})`);
      assert.equal(counts?.distinct, 20, 'every message on new/# arrived');
      assert.equal(sessionPresent, false, 'the session ended: no session present');
    });
  }
});
