import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { ephemeralRange, freePort, portBelow, tryBind } from '../../manager/providers/local/address-pool.ts';

// Replica ports are picked below the ephemeral range, where no outgoing connection takes them before the
// replica binds (a RabbitMQ replica once lost its distribution port that way: dist_port_already_used).
describe('replica ports outside the ephemeral range', () => {
  it('reads ip_local_port_range, with the Linux default for anything else', () => {
    assert.deepEqual(ephemeralRange('32768\t60999\n'), [32_768, 60_999]);
    assert.deepEqual(ephemeralRange('40000 50000'), [40_000, 50_000]);
    for (const bad of [undefined, '', 'x y', '5000', '6000 5000'])
      assert.deepEqual(ephemeralRange(bad), [32_768, 60_999]);
  });

  it('picks candidates in [10000, low), none when there is no room', () => {
    assert.equal(portBelow(32_768, 0), 10_000);
    assert.equal(portBelow(32_768, 0.999999), 32_767);
    assert.equal(portBelow(10_500, 0.5), undefined);
  });

  it('freePort gives a bindable port below the range on this machine', async () => {
    const [low] = ephemeralRange(await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'));
    for (let i = 0; i < 5; i++) {
      const port = await freePort('127.0.0.1');
      assert.ok(port >= 10_000 && port < low, `port ${port} below ${low}`);
      assert.equal(await tryBind('127.0.0.1', port), port);
    }
  });
});
