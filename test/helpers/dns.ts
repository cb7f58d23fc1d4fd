import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import DNS from 'dns2';
import { validate } from '../../common/config/load.ts';
import { type BrokelConfigInput, dnsSchema } from '../../common/config/schema.ts';
import { silentLogger } from '../../common/logger.ts';
import { type GeoDns, startGeoDns } from '../../geo-dns/service.ts';

const run = promisify(execFile);

/** geo-dns on 127.0.0.1, a free port, closed at teardown. */
export async function startTestDns(
  t: TestContext,
  input: NonNullable<BrokelConfigInput['dns']> = {},
  api?: { token: string },
): Promise<GeoDns> {
  const dns = validate(dnsSchema, { listen: '127.0.0.1:0', ...input });
  const geo = await startGeoDns({
    dns,
    log: silentLogger(),
    ...(api ? { api: { listen: '127.0.0.1:0', token: api.token } } : {}),
  });
  t.after(() => geo.close());
  return geo;
}

export interface DigResult {
  status: string;
  flags: string[];
  /** Answer section: [name, ttl, type, data]. */
  answers: Array<[string, number, string, string]>;
  authority: Array<[string, number, string, string]>;
  /** `CLIENT-SUBNET: a.b.c.d/source/scope` as printed, when echoed. */
  clientSubnet?: string;
}

function section(out: string, name: string): Array<[string, number, string, string]> {
  const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(\\n\\n|$)`).exec(out);
  if (!m?.[1]) return [];
  return m[1]
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [owner = '', ttl = '0', , type = '', ...data] = l.split(/\s+/);
      return [owner, Number(ttl), type, data.join(' ')];
    });
}

/** Debian's dig, unmodified, against 127.0.0.1:port; `args` are dig's own (name, type, +subnet=, +tcp). */
export async function dig(port: number, ...args: string[]): Promise<DigResult> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', ...args]);
  const status = /status: (\w+)/.exec(stdout)?.[1] ?? 'NO-ANSWER';
  const flags = (/;; flags: ([a-z ]+);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/);
  const clientSubnet = /CLIENT-SUBNET: (\S+)/.exec(stdout)?.[1];
  return {
    status,
    flags,
    answers: section(stdout, 'ANSWER'),
    authority: section(stdout, 'AUTHORITY'),
    ...(clientSubnet ? { clientSubnet } : {}),
  };
}

/** dns2's own clients, over UDP or TCP, optionally with an ECS client subnet. */
export async function dns2Query(
  port: number,
  transport: 'udp' | 'tcp',
  name: string,
  type: 'A' | 'AAAA' | 'SOA' | 'NS' = 'A',
  clientIp?: string,
): Promise<DNS.Packet> {
  type Resolve = (n: string, t: string, c: number, o: object) => Promise<DNS.Packet>;
  const client = transport === 'udp' ? DNS.UDPClient : DNS.TCPClient;
  const resolve = client({ dns: '127.0.0.1', port, timeout: 3000 } as never) as unknown as Resolve;
  return resolve(name, type, DNS.Packet.CLASS.IN, clientIp ? { clientIp } : {});
}

/** Sends raw bytes over UDP; resolves the first reply or undefined after `waitMs`. */
export function rawUdp(port: number, data: Buffer, waitMs = 300): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, waitMs);
    socket.once('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg);
    });
    socket.send(data, port, '127.0.0.1');
  });
}

/** Sends raw bytes over one TCP connection and resolves when the server closes it or after waitMs. */
export function rawTcp(port: number, data: Buffer, waitMs = 300): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(data));
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(done, waitMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('close', done);
    socket.on('error', done);
  });
}
