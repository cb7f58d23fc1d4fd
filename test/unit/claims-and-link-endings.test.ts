import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeClaim, encodeClaim, isNewerClaim } from '../../orchestrator/registry/claims.ts';
import type { UpstreamLink } from '../../orchestrator/session/context.ts';
import { LinkEndings } from '../../orchestrator/session/link-endings.ts';

describe('claims (orchestrator/registry/claims.ts)', () => {
  it('round-trip, and what is not a claim says why', () => {
    const claim = { clientId: 'dev/1 ü', instanceId: 'a1b2c3', at: 1_700_000_000_123 };
    assert.deepEqual(decodeClaim(encodeClaim(claim)), claim);
    const cases: Array<[string, RegExp]> = [
      ['', /not JSON/],
      ['[1', /not JSON/],
      ['null', /not an object/],
      ['{"v":2,"c":"x","i":"a","t":1}', /unknown claim format 2/],
      ['{"v":1,"c":"","i":"a","t":1}', /no client id/],
      ['{"v":1,"c":"x","t":1}', /no replica id/],
      ['{"v":1,"c":"x","i":"a","t":"1"}', /no time/],
      ['{"v":1,"c":"x","i":"a","t":-1}', /no time/],
    ];
    for (const [text, reason] of cases) assert.match(String(decodeClaim(Buffer.from(text))), reason, text);
  });

  it('the later CONNECT is the newer; the same millisecond goes to the greater replica id, on both sides', () => {
    assert.equal(isNewerClaim({ instanceId: 'a', at: 2 }, { instanceId: 'b', at: 1 }), true);
    assert.equal(isNewerClaim({ instanceId: 'b', at: 1 }, { instanceId: 'a', at: 2 }), false);
    // Two replicas hearing each other's claim of the same millisecond: exactly one yields.
    const a = { instanceId: 'aaaa', at: 5 };
    const b = { instanceId: 'bbbb', at: 5 };
    assert.equal(isNewerClaim(b, a), true, 'a yields to b');
    assert.equal(isNewerClaim(a, b), false, 'b keeps its session');
  });
});

describe('LinkEndings: clean closes taken for a takeover at the broker', () => {
  const link = (brokerId: string, protocolVersion: 4 | 5, closedByBroker = true) =>
    ({ brokerId, upstream: { closedByBroker, protocolVersion } }) as unknown as UpstreamLink;

  it('the 4th clean close within 10 s, not the 2nd (resets can read as clean closes), on 3.1.1 and 5 links', () => {
    for (const version of [4, 5] as const) {
      const endings = new LinkEndings();
      const verdicts = [1, 2, 3, 4].map(() => endings.takenOverAtBroker(link('b', version)));
      assert.deepEqual(verdicts, [false, false, false, true], `v${version}`);
    }
  });

  it('closes with a transport error, or on another broker, do not count; 0x8E always does', () => {
    const endings = new LinkEndings();
    for (let i = 0; i < 5; i += 1) assert.equal(endings.takenOverAtBroker(link('x', 5, false)), false);
    assert.equal(endings.takenOverAtBroker(link('x', 5)), false);
    assert.equal(endings.takenOverAtBroker(link('y', 5)), false);
    assert.equal(endings.takenOverAtBroker(link('z', 5)), false);
    const said = link('w', 5, false);
    endings.brokerDisconnect(said, 0x8e);
    assert.equal(endings.takenOverAtBroker(said), true);
  });

  it('clean closes older than the window are forgotten', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const endings = new LinkEndings();
    for (let i = 0; i < 3; i += 1) assert.equal(endings.takenOverAtBroker(link('b', 5)), false);
    t.mock.timers.tick(10_001);
    assert.equal(endings.takenOverAtBroker(link('b', 5)), false, 'the first three are out of the window');
  });
});
