import assert from 'node:assert/strict';
import { pbkdf2Sync } from 'node:crypto';
import { describe, it } from 'node:test';
import { ConfigError } from '../../common/errors.ts';
import { aliasAddress } from '../../manager/providers/local/address-pool.ts';
import { quotaMicros } from '../../manager/providers/local/cgroup.ts';
import { CpuMeter } from '../../manager/providers/local/cpu-meter.ts';
import { checkCreateOptions } from '../../manager/providers/local/create-options.ts';
import { parseProcStat } from '../../manager/providers/local/proc-stat.ts';
import { nextReplicaId } from '../../manager/providers/local/replica-store.ts';
import {
  mosquittoPasswordLine,
  parseMosquittoParams,
  renderMosquittoConf,
} from '../../templates/mosquitto/config.ts';
import { mosquittoTemplate } from '../../templates/mosquitto/template.ts';

describe('proc stat parsing', () => {
  const cases: Array<
    [string, string, { comm: string; ppid: number; pgrp: number; cpuTicks: number; startTime: number }]
  > = [
    [
      'plain',
      '4401 (mosquitto) S 1 4401 4401 0 -1 4194624 150 0 0 0 7 3 0 0 20 0 1 0 123456 9000000 800 18446744073709551615',
      { comm: 'mosquitto', ppid: 1, pgrp: 4401, cpuTicks: 10, startTime: 123456 },
    ],
    [
      'comm with spaces and parens',
      '77 (a (b) c) R 5 70 70 0 -1 0 0 0 0 0 100 25 4 4 20 0 1 0 999 0 0',
      { comm: 'a (b) c', ppid: 5, pgrp: 70, cpuTicks: 125, startTime: 999 },
    ],
  ];
  for (const [name, line, expected] of cases) {
    it(`parses ${name}`, () => {
      const stat = parseProcStat(line);
      assert.ok(stat);
      assert.deepEqual(
        {
          comm: stat.comm,
          ppid: stat.ppid,
          pgrp: stat.pgrp,
          cpuTicks: stat.cpuTicks,
          startTime: stat.startTime,
        },
        expected,
      );
    });
  }
  it('never throws on random input', () => {
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const alphabet = '0123456789 ()abcRSZ-\n';
    for (let i = 0; i < 10_000; i++) {
      const len = rand() % 80;
      let s = '';
      for (let j = 0; j < len; j++) s += alphabet[rand() % alphabet.length];
      const stat = parseProcStat(s);
      if (stat) assert.ok(Number.isFinite(stat.cpuTicks));
    }
  });
});

describe('cpu meter', () => {
  it('reports use since the previous sample as a fraction of the allocation', () => {
    const meter = new CpuMeter();
    meter.baseline('r', 0, 0);
    assert.equal(meter.sample('r', 0.5, 2000, 0.25), 1); // 0.5 s of CPU in 2 s on a quarter core
    assert.ok(Math.abs((meter.sample('r', 0.6, 4000, 1) ?? -1) - 0.05) < 1e-9);
  });
  it('has nothing to say without a baseline or without elapsed time', () => {
    const meter = new CpuMeter();
    assert.equal(meter.sample('r', 1, 1000, 1), undefined);
    assert.equal(meter.sample('r', 2, 1000, 1), undefined);
  });
  it('stretches a window shorter than the minimum back to an older reading (CFS period granularity)', () => {
    const meter = new CpuMeter(1000);
    meter.baseline('r', 0, 0);
    assert.equal(meter.sample('r', 0.1, 1000, 0.1), 1); // a full 0.1-core quota over 1 s
    // A late tick at 1.95 s, then an on-time one at 2.0 s: the 50 ms window would read 0.015 / 0.05 / 0.1 = 3.
    assert.ok(Math.abs((meter.sample('r', 0.195, 1950, 0.1) ?? -1) - 0.95 / 0.95) < 1e-9);
    const stretched = meter.sample('r', 0.21, 2000, 0.1) ?? -1;
    assert.ok(
      Math.abs(stretched - 0.11 / 1.0 / 0.1) < 1e-9,
      `over 1.0 s since the reading at 1 s: ${stretched}`,
    );
    // The next on-time tick measures from the newest reading at least 1 s old (1.95 s is not yet).
    assert.ok(Math.abs((meter.sample('r', 0.3, 3000, 0.1) ?? -1) - 0.09 / 1.0 / 0.1) < 1e-9);
  });
  it('uses the oldest reading while the replica is younger than the minimum window', () => {
    const meter = new CpuMeter(1000);
    meter.baseline('r', 0, 0);
    assert.ok(Math.abs((meter.sample('r', 0.05, 500, 1) ?? -1) - 0.1) < 1e-9);
    assert.ok(Math.abs((meter.sample('r', 0.08, 800, 1) ?? -1) - 0.1) < 1e-9);
  });
  it('counts a counter that went backwards as zero use', () => {
    const meter = new CpuMeter();
    meter.baseline('r', 5, 0);
    assert.equal(meter.sample('r', 3, 1000, 1), 0);
  });
});

describe('local provider helpers', () => {
  it('turns a core fraction into a cfs quota', () => {
    assert.equal(quotaMicros(0.25), 25_000);
    assert.equal(quotaMicros(2), 200_000);
    assert.equal(quotaMicros(0.001), 1000);
  });
  it('enumerates alias addresses in a 127.A block', () => {
    assert.equal(aliasAddress('127.42', 0), '127.42.0.1');
    assert.equal(aliasAddress('127.42', 253), '127.42.0.254');
    assert.equal(aliasAddress('127.42', 254), '127.42.1.1');
    assert.throws(() => aliasAddress('127.42', 254 * 256), RangeError);
  });
  it('numbers replica ids per level after the highest taken', () => {
    assert.equal(nextReplicaId('d', 'broker', []), 'd-b1');
    assert.equal(nextReplicaId('d', 'broker', ['d-b1', 'd-b7', 'd-o9', 'other-b20']), 'd-b8');
    assert.equal(nextReplicaId('d', 'orchestrator', ['d-b1']), 'd-o1');
  });

  const bad: Array<[string, Parameters<typeof checkCreateOptions>, string]> = [
    ['unknown template', ['broker', undefined, 'kafka', {}, 2], 'template: unknown template "kafka"'],
    [
      'zero quota',
      ['broker', mosquittoTemplate, 'mosquitto', { cpuQuota: 0 }, 2],
      'options.cpuQuota: 0 is not above 0',
    ],
    [
      'negative quota',
      ['broker', mosquittoTemplate, 'mosquitto', { cpuQuota: -1 }, 2],
      'options.cpuQuota: -1 is not above 0',
    ],
    [
      'quota above the cores',
      ['broker', mosquittoTemplate, 'mosquitto', { cpuQuota: 3 }, 2],
      'options.cpuQuota: 3 is above the 2 cores',
    ],
    [
      'wrong level',
      ['orchestrator', mosquittoTemplate, 'mosquitto', {}, 2],
      'template: mosquitto is a template of the broker level, not the orchestrator level',
    ],
    [
      'bad host',
      ['broker', mosquittoTemplate, 'mosquitto', { host: 'example' }, 2],
      'options.host: "example" is not an IP',
    ],
    [
      'bad port',
      ['broker', mosquittoTemplate, 'mosquitto', { port: 70000 }, 2],
      'options.port: 70000 is not a port',
    ],
    [
      'negative boot delay',
      ['broker', mosquittoTemplate, 'mosquitto', { bootDelaySeconds: -2 }, 2],
      'options.bootDelaySeconds: -2',
    ],
  ];
  for (const [name, args, expected] of bad) {
    it(`rejects create options with ${name}, naming the option`, () => {
      assert.throws(
        () => checkCreateOptions(...args),
        (err: Error) => err instanceof ConfigError && err.message.includes(expected),
      );
    });
  }
  it('accepts good create options', () => {
    checkCreateOptions('broker', mosquittoTemplate, 'mosquitto', { cpuQuota: 0.25, bootDelaySeconds: 1 }, 2);
  });
});

describe('mosquitto template rendering', () => {
  it('defaults to queue limits that never drop QoS 1/2 messages', () => {
    const conf = renderMosquittoConf({
      host: '127.42.0.1',
      port: 1883,
      dataDir: '/data',
      passwordFile: undefined,
      params: parseMosquittoParams({}),
    });
    assert.match(conf, /^listener 1883 127\.42\.0\.1$/m);
    assert.match(conf, /^max_queued_messages 0$/m);
    assert.match(conf, /^max_queued_bytes 0$/m);
    assert.match(conf, /^allow_anonymous true$/m);
    assert.match(conf, /^set_tcp_nodelay true$/m);
    assert.match(conf, /^persistence_location \/data\/$/m);
  });
  it('turns users into a password file and refuses anonymous clients', () => {
    const conf = renderMosquittoConf({
      host: '127.0.0.1',
      port: 40000,
      dataDir: '/d/',
      passwordFile: '/d/passwd',
      params: parseMosquittoParams({ maxQueuedMessages: 1000 }),
    });
    assert.match(conf, /^allow_anonymous false$/m);
    assert.match(conf, /^password_file \/d\/passwd$/m);
    assert.match(conf, /^max_queued_messages 1000$/m);
  });
  it('writes $7$ PBKDF2-SHA512 password lines that verify', () => {
    const salt = Buffer.from('0123456789ab');
    const line = mosquittoPasswordLine({ username: 'taxi', password: 's3cret' }, salt);
    const [user, hash] = line.split(':');
    assert.equal(user, 'taxi');
    const [, kind, iterations, saltB64, keyB64] = (hash ?? '').split('$');
    assert.equal(kind, '7');
    assert.equal(iterations, '101');
    assert.equal(saltB64, salt.toString('base64'));
    assert.equal(keyB64, pbkdf2Sync('s3cret', salt, 101, 64, 'sha512').toString('base64'));
    assert.throws(() => mosquittoPasswordLine({ username: 'a:b', password: 'x' }));
  });
  it('rejects bad params naming params.<field>', () => {
    assert.throws(
      () => parseMosquittoParams({ maxQueuedMessages: -1 }),
      /params\.maxQueuedMessages: -1 is below 0/,
    );
    assert.throws(() => parseMosquittoParams({ queue: 1 }), /params: unknown field queue/);
  });
});
