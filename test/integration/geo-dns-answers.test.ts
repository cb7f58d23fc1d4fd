// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dig, dns2Query, startTestDns } from '../helpers/dns.ts';

const NAME = 'mqtt.brokel.test';
const ROME = { lat: 41.9028, lon: 12.4964, region: 'eu-south' };
const VIRGINIA = { lat: 38.9072, lon: -77.0369, region: 'us-east' };
const LOCATIONS = [
  { cidr: '10.1.0.0/16', ...ROME },
  { cidr: '10.3.0.0/16', ...VIRGINIA },
  { cidr: '10.9.0.0/16', lat: 0, lon: 0 }, // a location with no region name
];

type Geo = Awaited<ReturnType<typeof startTestDns>>;

/** brokel_dns_answers_total as the registry exposes it on a scrape: `client_region orchestrator` → value. */
async function scrape(geo: Geo): Promise<Map<string, number>> {
  const text = await geo.server.metrics.registry.metrics();
  const out = new Map<string, number>();
  for (const m of text.matchAll(
    /^brokel_dns_answers_total\{client_region="([^"]*)",orchestrator="([^"]*)"\} (\d+)$/gm,
  ))
    out.set(`${m[1]} ${m[2]}`, Number(m[3]));
  return out;
}

describe('geo-dns: answers counted per region (issue #16)', () => {
  it('counts each answer to the service name by client region (ECS or source) and orchestrator answered, over UDP and TCP, cached or not', async (t) => {
    const geo = await startTestDns(t, { locations: LOCATIONS });
    const port = geo.server.port;
    // Nothing registered yet: the answer has no orchestrator in it.
    await dig(port, NAME, 'A', '+subnet=10.1.7.0/24');
    assert.deepEqual([...(await scrape(geo))], [['eu-south none', 1]]);

    await geo.directory.upsert({
      id: 'o-rome',
      host: '127.0.10.1',
      port: 1883,
      state: 'ready',
      load: 0.5,
      location: ROME,
    });
    await geo.directory.upsert({
      id: 'o-va',
      host: '127.0.10.3',
      port: 1883,
      state: 'ready',
      load: 0.5,
      location: VIRGINIA,
    });
    // Rome twice over UDP (the second from the answer cache) and once over TCP; Virginia over TCP
    // with dns2 and over UDP with dig; an unnamed location; the source address 127.0.0.1 (placed nowhere).
    for (const transport of ['', '', '+tcp']) {
      // +nocookie: dig's client cookie differs per run, and the cache keys on the query's bytes.
      const r = await dig(
        port,
        NAME,
        'A',
        '+nocookie',
        '+subnet=10.1.7.0/24',
        ...(transport ? [transport] : []),
      );
      assert.deepEqual(
        r.answers.map((a) => a[3]),
        ['127.0.10.1'],
      );
    }
    await dns2Query(port, 'tcp', NAME, 'A', '10.3.1.0');
    await dig(port, NAME, 'A', '+subnet=10.3.2.0/24');
    await dig(port, NAME, 'A', '+subnet=10.9.2.0/24');
    await dig(port, NAME, 'A', '+noedns');
    // Not answers with an orchestrator to give: other names and types are not counted.
    await dig(port, 'brokel.test', 'SOA', '+subnet=10.1.7.0/24');
    await dig(port, `ns.${'brokel.test'}`, 'A', '+tcp');

    const counted = await scrape(geo);
    assert.equal(counted.get('eu-south o-rome'), 3, 'Rome: 2 UDP (one cached) + 1 TCP');
    assert.equal(counted.get('us-east o-va'), 2, 'Virginia: 1 TCP + 1 UDP');
    assert.equal(counted.get('eu-south none'), 1, 'the answer before any orchestrator was registered');
    // The unnamed location is nearer Rome; 127.0.0.1 gets the least loaded (a tie: the first id).
    assert.equal(counted.get('unnamed o-rome'), 1);
    assert.equal(counted.get('unknown o-rome'), 1);
    assert.equal(counted.size, 5, [...counted].join('; '));
    assert.deepEqual(
      geo.server.metrics.tally.rows().find((r) => r.orchestrator === 'o-va'),
      { clientRegion: 'us-east', orchestrator: 'o-va', answers: 2 },
    );

    // The series follow the directory: an orchestrator that left is no longer a label value.
    await geo.directory.remove('o-va');
    const after = await scrape(geo);
    assert.equal(after.get('us-east o-va'), undefined);
    assert.equal(after.get('eu-south o-rome'), 3);
  });
});
