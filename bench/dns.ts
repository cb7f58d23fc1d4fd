// geo-dns against BIND 9 on loopback, side by side in one run: queries/s and p99 latency measured
// by dnsperf (one thread, 50 queries outstanding) for the same query, `mqtt.brokel.test A` with an
// EDNS client subnet. geo-dns answers from 3 registered orchestrators in 3 regions; BIND serves a
// static A record (one worker thread, as geo-dns has one event loop). geo-dns runs twice: as
// configured (answer cache on: one client subnet means every answer after the first is cached) and
// with `cacheEntries: 0` (every answer located, chosen and encoded). Rounds alternate the order.
// `npm run bench:dns [-- --rounds 3 --seconds 5]`. Prints each round and the median ratios.
import { type ChildProcess, execFile, type SpawnOptions, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { HttpDnsRegistry } from '../manager/dns-registry.ts';
import { freePort } from '../manager/providers/local/address-pool.ts';
import { benchArgs } from './lib/bench-args.ts';
import { stopChild, trackChild } from './lib/exit-cleanup.ts';
import { fmt, fmtInt, median, percentiles } from './lib/stats.ts';

const run = promisify(execFile);
const values = benchArgs(
  'bench:dns',
  'geo-dns against BIND 9 on loopback (dnsperf): queries/s and p99, rounds alternated.',
  { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '5' } },
);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const NAME = 'mqtt.brokel.test';
/** ECS option 8: family 1, source /24, scope 0, 10.1.0 (the Rome region below). */
const ECS = '8:000118000a0100';

interface Result {
  server: string;
  qps: number;
  p50Ms: number;
  p99Ms: number;
  lost: number;
  rcodes: string;
}

async function dnsperf(server: string, port: number, dataFile: string): Promise<Result> {
  const { stdout } = await run(
    'dnsperf',
    [
      '-s',
      '127.0.0.1',
      '-p',
      String(port),
      '-d',
      dataFile,
      '-l',
      String(seconds),
      '-c',
      '1',
      '-q',
      '50',
      '-E',
      ECS,
      '-v',
    ],
    { maxBuffer: 512 * 1024 * 1024 },
  );
  const lines = stdout.split('\n').filter((l) => l.startsWith('> '));
  const latencies = new Float64Array(lines.length);
  const rcodes = new Map<string, number>();
  lines.forEach((line, i) => {
    const parts = line.split(' ');
    latencies[i] = Number(parts[parts.length - 1]) * 1000;
    rcodes.set(parts[1] ?? '?', (rcodes.get(parts[1] ?? '?') ?? 0) + 1);
  });
  const runtime = Number(/Run time \(s\):\s+([\d.]+)/.exec(stdout)?.[1]);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1]);
  const [p50 = Number.NaN, p99 = Number.NaN] = percentiles(latencies, lines.length, [50, 99]);
  return {
    server,
    qps: lines.length / runtime,
    p50Ms: p50,
    p99Ms: p99,
    lost,
    rcodes: [...rcodes].map(([k, v]) => `${k} ${v}`).join(', '),
  };
}

async function waitForAnswer(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await run('dig', [
      '@127.0.0.1',
      '-p',
      String(port),
      NAME,
      'A',
      '+short',
      '+time=1',
      '+tries=1',
    ]).catch(() => ({ stdout: '' }));
    if (r.stdout.trim() !== '') return;
    await sleep(100);
  }
  throw new Error(`no DNS answer on port ${port}`);
}

/** Starts a child whose exit is awaited from the start (so stopChild cannot miss it). */
function start(
  command: string,
  args: string[],
  options: SpawnOptions,
): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(command, args, options);
  trackChild(child);
  return { child, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
}

async function withBind(dir: string, work: (port: number) => Promise<Result>): Promise<Result> {
  const port = await freePort('127.0.0.1');
  await writeFile(
    join(dir, 'brokel.test.zone'),
    [
      '$TTL 5',
      '@ IN SOA ns.brokel.test. hostmaster.brokel.test. 1 3600 600 86400 5',
      '@ IN NS ns.brokel.test.',
      'ns IN A 127.0.0.1',
      'mqtt IN A 127.0.10.1',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'named.conf'),
    `options { directory "${dir}"; listen-on port ${port} { 127.0.0.1; }; listen-on-v6 { none; };
  recursion no; pid-file "${dir}/named.pid"; session-keyfile "${dir}/session.key"; dnssec-validation no; };
zone "brokel.test" { type master; file "${dir}/brokel.test.zone"; };
`,
  );
  const named = start('named', ['-g', '-u', 'root', '-n', '1', '-c', join(dir, 'named.conf')], {
    stdio: 'ignore',
  });
  try {
    await waitForAnswer(port);
    return await work(port);
  } finally {
    await stopChild(named.child, named.exited, 10_000);
  }
}

async function withGeoDns(
  dir: string,
  cacheEntries: number,
  work: (port: number) => Promise<Result>,
): Promise<Result> {
  const port = await freePort('127.0.0.1');
  const apiPort = await freePort('127.0.0.1');
  const token = 'bench-dns-token-0123456789';
  const config = join(dir, 'brokel.yaml');
  await writeFile(
    config,
    [
      'dns:',
      `  cacheEntries: ${cacheEntries}`,
      '  locations:',
      '    - { cidr: 10.1.0.0/16, lat: 41.9028, lon: 12.4964, region: rome }',
      '    - { cidr: 10.2.0.0/16, lat: 50.1109, lon: 8.6821, region: frankfurt }',
      '    - { cidr: 10.3.0.0/16, lat: 38.9072, lon: -77.0369, region: virginia }',
      '',
    ].join('\n'),
  );
  const geo = start(
    process.execPath,
    [
      'bin/brokel.js',
      'dns',
      '--listen',
      `127.0.0.1:${port}`,
      '--config',
      config,
      '--api',
      `127.0.0.1:${apiPort}`,
    ],
    { stdio: 'ignore', env: { ...process.env, BROKEL_DNS_TOKEN: token, BROKEL_LOG_LEVEL: 'warn' } },
  );
  try {
    const registry = new HttpDnsRegistry(`http://127.0.0.1:${apiPort}`, token);
    for (let i = 0; ; i++) {
      try {
        await registry.upsert({
          id: 'rome',
          host: '127.0.10.1',
          port: 1883,
          state: 'ready',
          load: 0.2,
          location: { lat: 41.9, lon: 12.5 },
        });
        break;
      } catch (err) {
        if (i > 100) throw err;
        await sleep(100);
      }
    }
    await registry.upsert({
      id: 'fra',
      host: '127.0.10.2',
      port: 1883,
      state: 'ready',
      load: 0.2,
      location: { lat: 50.1, lon: 8.7 },
    });
    await registry.upsert({
      id: 'va',
      host: '127.0.10.3',
      port: 1883,
      state: 'ready',
      load: 0.2,
      location: { lat: 38.9, lon: -77 },
    });
    await waitForAnswer(port);
    return await work(port);
  } finally {
    await stopChild(geo.child, geo.exited, 10_000);
  }
}

const dir = await mkdtemp(join(tmpdir(), 'brokel-bench-dns-'));
try {
  const dataFile = join(dir, 'queries.txt');
  await writeFile(dataFile, `${NAME} A\n`);
  const version = (await run('named', ['-v'])).stdout.trim();
  console.log(`geo-dns vs ${version}, dnsperf -c 1 -q 50, ${seconds} s per measurement, ${rounds} rounds`);
  type Server = 'geo' | 'uncached' | 'bind';
  const rows: Array<Record<Server, Result>> = [];
  for (let round = 1; round <= rounds; round++) {
    const measure = (server: Server) =>
      server === 'bind'
        ? withBind(dir, (port) => dnsperf('bind9', port, dataFile))
        : server === 'geo'
          ? withGeoDns(dir, 4096, (port) => dnsperf('geo-dns', port, dataFile))
          : withGeoDns(dir, 0, (port) => dnsperf('geo-dns, no answer cache', port, dataFile));
    const order: Server[] = round % 2 === 1 ? ['geo', 'uncached', 'bind'] : ['bind', 'uncached', 'geo'];
    const results: Partial<Record<Server, Result>> = {};
    for (const server of order) results[server] = await measure(server);
    const row = results as Record<Server, Result>;
    rows.push(row);
    for (const r of [row.geo, row.uncached, row.bind])
      console.log(
        `  round ${round} ${r.server.padEnd(26)} ${fmtInt(r.qps).padStart(8)} q/s  p50 ${fmt(r.p50Ms, 3)} ms  p99 ${fmt(r.p99Ms, 3)} ms  lost ${r.lost}  (${r.rcodes})`,
      );
  }
  const ratios = (server: Server) => ({
    qps: median(rows.map((r) => r[server].qps / r.bind.qps)),
    p99: median(rows.map((r) => r[server].p99Ms / r.bind.p99Ms)),
  });
  for (const server of ['geo', 'uncached', 'bind'] as const)
    console.log(
      `median of ${rounds}: ${(rows[0]?.[server].server ?? server).padEnd(26)} ${fmtInt(median(rows.map((r) => r[server].qps))).padStart(8)} q/s, p99 ${fmt(median(rows.map((r) => r[server].p99Ms)), 3)} ms`,
    );
  const { qps: qpsRatio, p99: p99Ratio } = ratios('geo');
  const uncached = ratios('uncached');
  console.log(
    `ratio geo-dns / BIND (median of per-round ratios): throughput ×${fmt(qpsRatio)}, p99 latency ×${fmt(p99Ratio)}`,
  );
  console.log(
    `ratio geo-dns without its answer cache / BIND: throughput ×${fmt(uncached.qps)}, p99 latency ×${fmt(uncached.p99)} (every answer computed, as for clients from many subnets)`,
  );
  await mkdir(join('bench', 'results'), { recursive: true }); // absent in a fresh clone
  await writeFile(
    join('bench', 'results', `dns-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
    `${JSON.stringify({ version, seconds, rows, qpsRatio, p99Ratio, uncached }, null, 2)}\n`,
  );
} finally {
  const pid = await readFile(join(dir, 'named.pid'), 'utf8').catch(() => '');
  if (pid.trim() !== '')
    await run('kill', ['-0', pid.trim()]).then(
      () => console.error(`named ${pid.trim()} still running`),
      () => undefined,
    );
  await rm(dir, { recursive: true, force: true });
}
