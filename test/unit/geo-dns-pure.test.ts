import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import DNS from 'dns2';
import { ConfigError } from '../../common/errors.ts';
import { type AnswerDeps, answerQuery, RCODE } from '../../geo-dns/answer.ts';
import { AnswerCache } from '../../geo-dns/answer-cache.ts';
import { AnswerTally, clientRegion, MAX_CLIENT_REGIONS } from '../../geo-dns/answer-tally.ts';
import { chooseOrchestrators } from '../../geo-dns/choose.ts';
import { greatCircleKm } from '../../geo-dns/geo.ts';
import { cityLocation } from '../../geo-dns/geoip.ts';
import { Locator } from '../../geo-dns/locator.ts';
import { typeLabel } from '../../geo-dns/metrics.ts';
import { OrchestratorDirectory, type OrchestratorRecord } from '../../geo-dns/records.ts';
import { decodeQuery, formErrFor } from '../../geo-dns/wire.ts';

const ROME = { lat: 41.9028, lon: 12.4964 };
const PARIS = { lat: 48.8566, lon: 2.3522 };
const NYC = { lat: 40.7128, lon: -74.006 };

const rec = (
  id: string,
  load: number,
  location?: { lat: number; lon: number },
  state: 'ready' | 'draining' = 'ready',
) =>
  ({
    id,
    host: `127.0.0.${id.length}`,
    port: 1883,
    state,
    load,
    ...(location ? { location } : {}),
  }) as OrchestratorRecord;

describe('geo-dns: distance', () => {
  it('matches known great-circle distances within 1 %', () => {
    for (const [a, b, km] of [
      [ROME, PARIS, 1106],
      [PARIS, NYC, 5837],
      [ROME, ROME, 0],
    ] as const) {
      const d = greatCircleKm(a, b);
      assert.ok(Math.abs(d - km) <= km * 0.01 + 0.001, `${d} vs ${km}`);
    }
  });
});

describe('geo-dns: choosing orchestrators', () => {
  const opts = { tieKm: 50, topK: 1 };
  it('picks the nearest ready one, whatever its load', () => {
    const chosen = chooseOrchestrators([rec('rome', 0.9, ROME), rec('paris', 0.1, PARIS)], ROME, opts);
    assert.deepEqual(
      chosen.map((r) => r.id),
      ['rome'],
    );
  });
  it('breaks ties within tieKm by load, then by id', () => {
    const near = { lat: 41.95, lon: 12.45 };
    const records = [rec('rome', 0.9, ROME), rec('rome2', 0.2, near), rec('paris', 0, PARIS)];
    assert.deepEqual(
      chooseOrchestrators(records, ROME, { tieKm: 50, topK: 3 }).map((r) => r.id),
      ['rome2', 'rome', 'paris'],
    );
    assert.deepEqual(
      chooseOrchestrators(records, ROME, { tieKm: 1, topK: 3 }).map((r) => r.id),
      ['rome', 'rome2', 'paris'],
    );
  });
  it('never returns a draining one, even the only one', () => {
    assert.deepEqual(chooseOrchestrators([rec('rome', 0, ROME, 'draining')], ROME, opts), []);
  });
  it('without a client location, or with none placed, takes the least loaded', () => {
    const records = [rec('a', 0.5, ROME), rec('bb', 0.2, PARIS)];
    assert.equal(chooseOrchestrators(records, undefined, opts)[0]?.id, 'bb');
    assert.equal(chooseOrchestrators([rec('a', 0.5), rec('bb', 0.2)], ROME, opts)[0]?.id, 'bb');
  });
  it('puts orchestrators of unknown location after the placed ones', () => {
    const chosen = chooseOrchestrators([rec('x', 0, undefined), rec('paris', 0.9, PARIS)], NYC, {
      tieKm: 0,
      topK: 2,
    });
    assert.deepEqual(
      chosen.map((r) => r.id),
      ['paris', 'x'],
    );
  });
});

describe('geo-dns: locating clients', () => {
  const geoip = {
    source: 'fake',
    lookup: (ip: string) =>
      ip.startsWith('151.') ? { location: { ...ROME, region: 'IT' }, prefix: 20 } : undefined,
  };
  const locator = new Locator(
    [
      { cidr: '10.0.0.0/8', ...PARIS, region: 'wide' },
      { cidr: '10.1.0.0/16', ...ROME, region: 'narrow' },
    ],
    geoip,
  );
  it('prefers the longest static prefix, then the database, else unknown', () => {
    assert.deepEqual(locator.locate('10.1.2.3'), {
      location: { ...ROME, region: 'narrow' },
      source: 'static',
      prefix: 16,
    });
    assert.equal(locator.locate('10.9.2.3').location?.region, 'wide');
    assert.deepEqual(locator.locate('151.100.1.1'), {
      location: { ...ROME, region: 'IT' },
      source: 'geoip',
      prefix: 20,
    });
    assert.deepEqual(locator.locate('8.8.8.8'), { location: undefined, source: 'unknown', prefix: 0 });
    assert.equal(locator.locate('::ffff:10.1.0.1').source, 'static', 'IPv4-mapped IPv6 is IPv4');
    assert.equal(locator.locate('not an ip').source, 'unknown');
  });
  it('reads both city record layouts (MaxMind GeoIP2, ip-location-db)', () => {
    assert.deepEqual(cityLocation({ location: { latitude: 1, longitude: 2 }, country: { iso_code: 'IT' } }), {
      lat: 1,
      lon: 2,
      region: 'IT',
    });
    assert.deepEqual(cityLocation({ latitude: 3, longitude: 4, country_code: 'US' }), {
      lat: 3,
      lon: 4,
      region: 'US',
    });
    assert.equal(cityLocation({ country_code: 'US' }), undefined);
    assert.equal(cityLocation(null), undefined);
  });
});

describe('geo-dns: the directory', () => {
  it('refuses malformed records with the field named, and counts changes', async () => {
    const directory = new OrchestratorDirectory();
    await assert.rejects(
      directory.upsert({ ...rec('a', 0), host: 'mqtt.example' }),
      (err: Error) => err instanceof ConfigError && /host/.test(err.message),
    );
    await assert.rejects(directory.upsert({ ...rec('a', 0), port: 0 }), /port/);
    await directory.upsert(rec('a', 0));
    await directory.remove('a');
    await directory.remove('a');
    assert.equal(directory.version, 2);
    assert.deepEqual(directory.list(), []);
  });
});

function query(name: string, type: number, mutate: (p: DNS.Packet) => void = () => undefined): DNS.Packet {
  const p = new DNS.Packet();
  p.header.id = 42;
  p.questions.push({ name, type, class: DNS.Packet.CLASS.IN } as DNS.Packet.Question);
  mutate(p);
  return decodeQueryOrThrow(p.toBuffer());
}

function decodeQueryOrThrow(data: Buffer): DNS.Packet {
  const decoded = decodeQuery(data);
  if ('error' in decoded) throw new Error(decoded.error);
  return decoded.packet;
}

describe('geo-dns: answering (pure)', () => {
  const deps: AnswerDeps = {
    zone: {
      zone: 'brokel.test',
      name: 'mqtt.brokel.test',
      ttlSeconds: 5,
      nsName: 'ns.brokel.test',
      nsAddresses: [],
    },
    serial: () => 7,
    records: () => [rec('a', 0)],
    locate: () => ({ location: undefined, source: 'unknown', prefix: 0 }),
    choice: { tieKm: 50, topK: 1 },
  };
  const { A, AAAA } = DNS.Packet.TYPE;
  it('answers A authoritatively and gives NOTIMP to other opcodes', () => {
    const ok = answerQuery(query('mqtt.brokel.test', A), '127.0.0.1', deps);
    assert.equal(ok?.rcode, RCODE.NOERROR);
    assert.equal(ok?.response.header.aa, 1);
    assert.deepEqual(
      ok?.response.answers.map((a) => a.address),
      ['127.0.0.1'],
    );
    const notify = answerQuery(
      query('mqtt.brokel.test', A, (p) => {
        p.header.opcode = 4;
      }),
      '127.0.0.1',
      deps,
    );
    assert.equal(notify?.rcode, RCODE.NOTIMP);
  });
  it('gives an empty AAAA answer (NODATA) when no orchestrator has an IPv6 address', () => {
    const r = answerQuery(query('mqtt.brokel.test', AAAA), '::1', deps);
    assert.equal(r?.rcode, RCODE.NOERROR);
    assert.equal(r?.response.answers.length, 0);
    assert.equal(r?.response.authorities[0]?.type, DNS.Packet.TYPE.SOA);
  });
  it('refuses a bad client subnet with FORMERR, and a newer EDNS version with BADVERS', () => {
    const ecs =
      (ip: string, sourcePrefixLength: number, family = 1) =>
      (p: DNS.Packet) => {
        p.additionals.push(
          DNS.Packet.Resource.EDNS([{ ednsCode: 8, family, sourcePrefixLength, scopePrefixLength: 0, ip }]),
        );
      };
    const bad = answerQuery(query('mqtt.brokel.test', A, ecs('10.0.0.0', 33)), '127.0.0.1', deps);
    assert.equal(bad?.rcode, RCODE.FORMERR);
    assert.match(bad?.problem ?? '', /source prefix/);
    const good = answerQuery(query('mqtt.brokel.test', A, ecs('10.1.0.0', 16)), '127.0.0.1', deps);
    assert.equal(good?.rcode, RCODE.NOERROR);
    assert.equal(good?.client?.via, 'ecs');
    const v1 = query('mqtt.brokel.test', A, (p) => {
      const opt = DNS.Packet.Resource.EDNS([]) as DNS.Packet.Resource & { ttl: number };
      opt.ttl = 1 << 16; // EDNS version 1
      p.additionals.push(opt);
    });
    assert.equal(answerQuery(v1, '127.0.0.1', deps)?.rcode, RCODE.BADVERS);
  });
  it('does not answer responses', () => {
    const response = query('mqtt.brokel.test', A, (p) => {
      p.header.qr = 1;
    });
    assert.equal(answerQuery(response, '127.0.0.1', deps), undefined);
  });
});

describe('geo-dns: wire checks', () => {
  it('refuses section counts the packet cannot hold, before parsing', () => {
    const lying = Buffer.from([0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    const decoded = decodeQuery(lying);
    assert.ok('error' in decoded && /do not fit/.test(decoded.error));
    assert.ok('error' in decodeQuery(Buffer.alloc(5)));
  });
  it('makes FORMERR from a query header only', () => {
    const formErr = formErrFor(Buffer.from([0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9]));
    assert.deepEqual([...(formErr ?? [])], [0x12, 0x34, 0x81, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(
      formErrFor(Buffer.from([0x12, 0x34, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0])),
      undefined,
      'a response',
    );
    assert.equal(formErrFor(Buffer.alloc(11)), undefined);
  });
  it('labels query types for metrics from a bounded set', () => {
    assert.equal(typeLabel('AAAA'), 'AAAA');
    assert.equal(typeLabel('TYPE65000'), 'OTHER');
    assert.equal(typeLabel('MX'), 'OTHER');
  });
});

describe('geo-dns: answer cache', () => {
  const answer = (n: number) => ({ bytes: Buffer.from([0, 0, 0x84, 0, n]), qtype: 'A', rcode: 0 });
  it('returns an entry for the same query bytes and source, with the new query id written in', () => {
    const cache = new AnswerCache(2);
    const query = Buffer.from([0x12, 0x34, 1, 0, 0, 1]);
    const key = AnswerCache.key(query, '10.0.0.1');
    cache.set(key, 1, answer(7));
    assert.equal(cache.get(AnswerCache.key(query, '10.0.0.2'), 1), undefined, 'another source');
    const again = Buffer.from([0xab, 0xcd, 1, 0, 0, 1]);
    const hit = cache.get(AnswerCache.key(again, '10.0.0.1'), 1);
    assert.ok(hit);
    assert.deepEqual([...AnswerCache.forQuery(hit, again)], [0xab, 0xcd, 0x84, 0, 7]);
    assert.deepEqual([...hit.bytes], [0, 0, 0x84, 0, 7], 'the cached bytes are not changed');
  });
  it('forgets everything when the records change, keeps a bound, and skips big answers', () => {
    const cache = new AnswerCache(2);
    cache.set('a', 1, answer(1));
    cache.set('b', 1, answer(2));
    cache.set('c', 1, answer(3));
    assert.equal(cache.size, 2);
    assert.equal(cache.get('a', 1), undefined, 'the oldest went first');
    assert.equal(cache.get('c', 2), undefined, 'a new generation starts empty');
    assert.equal(cache.size, 0);
    cache.set('big', 2, { bytes: Buffer.alloc(513), qtype: 'A', rcode: 0 });
    assert.equal(cache.size, 0);
    const off = new AnswerCache(0);
    off.set('a', 1, answer(1));
    assert.equal(off.size, 0);
  });
});

describe('geo-dns: answer tally (issue #16)', () => {
  it('counts by (client region, orchestrator), bounds the regions per orchestrator, forgets orchestrators that left', () => {
    const tally = new AnswerTally();
    tally.count('eu-south', 'o1');
    tally.count('eu-south', 'o1');
    tally.count('us-east', 'o2');
    tally.count('us-east', 'none');
    for (let i = 0; i < MAX_CLIENT_REGIONS + 5; i++) tally.count(`r${i}`, 'o3');
    assert.equal(tally.rows().filter((r) => r.orchestrator === 'o3').length, MAX_CLIENT_REGIONS + 1);
    assert.deepEqual(
      tally.rows().find((r) => r.orchestrator === 'o3' && r.clientRegion === 'other'),
      { clientRegion: 'other', orchestrator: 'o3', answers: 5 },
    );
    tally.keepOnly(new Set(['o1']));
    assert.deepEqual(tally.rows(), [
      { clientRegion: 'us-east', orchestrator: 'none', answers: 1 },
      { clientRegion: 'eu-south', orchestrator: 'o1', answers: 2 },
    ]);
    assert.equal(clientRegion({ location: undefined, source: 'unknown', prefix: 0 }), 'unknown');
    assert.equal(clientRegion({ location: { lat: 1, lon: 2 }, source: 'static', prefix: 8 }), 'unnamed');
    assert.equal(
      clientRegion({ location: { lat: 1, lon: 2, region: 'IT' }, source: 'geoip', prefix: 8 }),
      'IT',
    );
  });
});
