import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { marginalRssKb } from '../../bench/lib/connection-scale.ts';

describe('connection scale: RSS per added client', () => {
  it('is the slope between two client counts, leaving out a cost that does not grow with them', () => {
    // 30 MB fixed (young generation) + 18 KB per client, read as per-client averages.
    const at = (clients: number, perClient: number) => {
      const added = 30 * 1024 + perClient * clients;
      return {
        clients,
        rssPerClientKb: added / clients,
        rssPerClientKbPublishing: (added + 4 * clients) / clients,
      };
    };
    const m = marginalRssKb(at(2250, 18), at(4500, 18));
    assert.ok(Math.abs(m.connected - 18) < 1e-9, `connected ${m.connected}`);
    assert.ok(Math.abs(m.publishing - 22) < 1e-9, `publishing ${m.publishing}`);
    // The averages the bench printed before include the fixed part: above the slope.
    assert.ok(at(4500, 18).rssPerClientKb > 24);
  });

  it('refuses two runs that do not add clients', () => {
    const r = { clients: 100, rssPerClientKb: 20, rssPerClientKbPublishing: 25 };
    assert.throws(() => marginalRssKb(r, r), /is not more than/);
  });
});
