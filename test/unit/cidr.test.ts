import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cidrContains, parseCidr, parseIp } from '../../common/net/cidr.ts';

describe('CIDR', () => {
  const cases: Array<[string, string, boolean]> = [
    ['10.0.0.0/8', '10.200.3.4', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['192.168.1.77/24', '192.168.1.1', true],
    ['0.0.0.0/0', '8.8.8.8', true],
    ['127.0.0.1/32', '127.0.0.1', true],
    ['127.0.0.1/32', '127.0.0.2', false],
    ['10.0.0.0/8', '::ffff:10.1.1.1', true],
    ['2001:db8::/32', '2001:db8:1::5', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['::1/128', '::1', true],
    ['fd00::/8', '10.0.0.1', false],
  ];
  for (const [net, ip, inside] of cases) {
    it(`${ip} is ${inside ? '' : 'not '}in ${net}`, () => {
      const cidr = parseCidr(net);
      const addr = parseIp(ip);
      assert.ok(cidr && addr);
      assert.equal(cidrContains(cidr, addr), inside);
    });
  }

  it('refuses what is not a CIDR', () => {
    for (const bad of [
      '10.0.0.0',
      '10.0.0.0/33',
      '::/129',
      '10.0.0/8',
      'x/8',
      '10.0.0.0/-1',
      '1.2.3.4/ 8',
      '',
    ]) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
  });

  it('clears host bits and reads IPv6 with and without ::', () => {
    assert.equal(parseCidr('192.168.1.77/24')?.value, parseIp('192.168.1.0')?.value);
    assert.equal(parseIp('2001:db8:0:0:0:0:0:1')?.value, parseIp('2001:db8::1')?.value);
    assert.equal(parseIp('::')?.value, 0n);
  });
});
