import type { RemoteInfo } from 'node:dgram';
import { isIPv6 } from 'node:net';
import DNS from 'dns2';
import type { Logger } from '../common/logger.ts';
import { type AnswerDeps, answerQuery, RCODE, rcodeName } from './answer.ts';
import { AnswerCache, CACHEABLE_BYTES } from './answer-cache.ts';
import { clientRegion, NO_ORCHESTRATOR } from './answer-tally.ts';
import { type DnsMetrics, dnsMetrics, typeLabel } from './metrics.ts';
import { dnsTcpServer } from './tcp.ts';
import { decodeQuery, formErrFor } from './wire.ts';

const { Packet } = DNS;

export interface DnsServerOptions extends AnswerDeps {
  host: string;
  /** 0: any free port (the same one for UDP and TCP). */
  port: number;
  log: Logger;
  metrics?: DnsMetrics;
  /** Open TCP connections at most (each idles out after 10 s, RFC 7766). */
  maxTcpConnections?: number;
  /** Encoded answers kept (AnswerCache); 0 computes every answer. */
  cacheEntries?: number;
}

export interface RunningDnsServer {
  host: string;
  port: number;
  metrics: DnsMetrics;
  close(): Promise<void>;
}

type Transport = 'udp' | 'tcp';

/** An answer to hand to the transport: a packet (UDP fits it to the client's size), or raw bytes. */
type Outgoing = DNS.Packet | Buffer;

/**
 * dns2's UDP server for its sending side (it fits an answer into the client's EDNS payload size,
 * setting TC when it cannot), with our own receiving side (see handleMessage).
 */
class UdpServer extends DNS.UDPServer {
  constructor(
    type: 'udp4' | 'udp6',
    private readonly onMessage: (data: Buffer, rinfo: RemoteInfo) => void,
  ) {
    super({ type } as never);
  }

  override handle(data: Buffer, rinfo: RemoteInfo): void {
    this.onMessage(data, rinfo);
  }

  reply(rinfo: RemoteInfo, answer: Outgoing, maxPayload: number): Promise<Buffer> {
    // dns2's response() takes this context (its typings say rinfo).
    return this.response({ rinfo, maxPayload } as unknown as RemoteInfo, answer);
  }
}

function ednsPayload(query: DNS.Packet): number {
  const opt = query.additionals.find((r) => r.type === Packet.TYPE.EDNS);
  return Math.max(512, (opt?.class as number | undefined) ?? 512);
}

/** Starts geo-dns on UDP and TCP (same port; with port 0, a free one for both). */
export async function startDnsServer(options: DnsServerOptions): Promise<RunningDnsServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await listenOnce(options);
    } catch (err) {
      // Port 0: UDP got a port whose TCP twin is taken; try another.
      const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (options.port !== 0 || !inUse || attempt >= 5) {
        throw new Error(
          `geo-dns cannot listen on ${options.host}:${options.port}: ${(err as Error).message}`,
        );
      }
    }
  }
}

async function listenOnce(options: DnsServerOptions): Promise<RunningDnsServer> {
  const metrics = options.metrics ?? dnsMetrics();
  const log = options.log;
  const cache = new AnswerCache(options.cacheEntries ?? 4096);

  /**
   * One message from either transport: FORMERR when it has a query header but cannot be parsed,
   * silence when it has none (or is a response), else the answer. Never throws.
   */
  const handleMessage = (
    transport: Transport,
    data: Buffer,
    source: string,
    send: (answer: Outgoing | undefined, query?: DNS.Packet) => void,
  ): void => {
    const started = process.hrtime.bigint();
    const generation = options.serial();
    const key = AnswerCache.key(data, source);
    const cached = cache.get(key, generation);
    if (cached) {
      send(AnswerCache.forQuery(cached, data));
      metrics.latency.observe({ transport }, Number(process.hrtime.bigint() - started) / 1e9);
      metrics.queries.inc({ type: typeLabel(cached.qtype), rcode: rcodeName(cached.rcode), transport });
      if (cached.tally) metrics.tally.count(cached.tally.region, cached.tally.orchestrator);
      return;
    }
    const decoded = decodeQuery(data);
    if ('error' in decoded) {
      const formErr = formErrFor(data);
      log.debug({ source, transport, bytes: data.length, problem: decoded.error }, 'unparseable DNS message');
      send(formErr);
      if (formErr) metrics.queries.inc({ type: 'NONE', rcode: 'FORMERR', transport });
      else metrics.dropped.inc({ transport });
      return;
    }
    let answer: ReturnType<typeof answerQuery>;
    try {
      answer = answerQuery(decoded.packet, source, options);
    } catch (err) {
      log.error({ err: (err as Error).message, source }, 'DNS query failed: SERVFAIL');
      const response = new Packet();
      response.header = new Packet.Header({ id: decoded.packet.header.id, qr: 1, rcode: RCODE.SERVFAIL });
      send(response, decoded.packet);
      metrics.queries.inc({ type: 'NONE', rcode: 'SERVFAIL', transport });
      return;
    }
    if (!answer) {
      send(undefined);
      metrics.dropped.inc({ transport });
      return;
    }
    if (answer.problem) log.debug({ source, problem: answer.problem }, 'malformed DNS query: FORMERR');
    // Answers per region (issue #16): where the client was placed, and the orchestrator it got first.
    const tally =
      answer.forService && answer.client
        ? {
            region: clientRegion(answer.client.located),
            orchestrator: answer.chosen[0]?.id ?? NO_ORCHESTRATOR,
          }
        : undefined;
    if (tally) metrics.tally.count(tally.region, tally.orchestrator);
    const bytes = answer.response.toBuffer();
    if (bytes.length <= CACHEABLE_BYTES) {
      // FORMERR and the like depend on the bytes only too, but are not worth keeping.
      if (answer.rcode !== RCODE.FORMERR)
        cache.set(key, generation, {
          bytes,
          qtype: answer.qtype,
          rcode: answer.rcode,
          ...(tally ? { tally } : {}),
        });
      send(bytes);
    } else send(answer.response, decoded.packet); // UDP fits it to the client's payload size
    metrics.latency.observe({ transport }, Number(process.hrtime.bigint() - started) / 1e9);
    metrics.queries.inc({ type: typeLabel(answer.qtype), rcode: rcodeName(answer.rcode), transport });
  };

  const failed = (source: string) => (err: unknown) =>
    log.warn({ err: (err as Error).message, source }, 'DNS answer not sent');

  const udp: UdpServer = new UdpServer(isIPv6(options.host) ? 'udp6' : 'udp4', (data, rinfo) =>
    handleMessage('udp', data, rinfo.address, (answer, query) => {
      if (!answer) return;
      udp.reply(rinfo, answer, query ? ednsPayload(query) : 512).catch(failed(rinfo.address));
    }),
  );

  const tcp = dnsTcpServer((message, reply, socket) => {
    const source = socket.remoteAddress ?? '';
    handleMessage('tcp', message, source, (answer) => {
      try {
        reply(answer instanceof Packet ? answer.toBuffer() : answer);
      } catch (err) {
        failed(source)(err);
        reply(undefined);
      }
    });
  }, options.maxTcpConnections ?? 256);

  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(options.port, options.host, () => {
      udp.off('error', reject);
      resolve();
    });
  });
  const port = udp.address().port;
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.server.once('error', reject);
      tcp.server.listen(port, options.host, () => {
        tcp.server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    udp.close();
    throw err;
  }
  udp.on('error', (err: Error) => log.error({ err: err.message }, 'DNS UDP socket error'));
  tcp.server.on('error', (err: Error) => log.error({ err: err.message }, 'DNS TCP server error'));
  log.info(
    { host: options.host, port, zone: options.zone.zone, name: options.zone.name },
    'geo-dns listening',
  );
  return {
    host: options.host,
    port,
    metrics,
    close: async () => {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      await tcp.close();
    },
  };
}
