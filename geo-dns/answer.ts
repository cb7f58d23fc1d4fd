import { isIPv4, isIPv6 } from 'node:net';
import DNS from 'dns2';
import { parseIp } from '../common/net/cidr.ts';
import { type ChoiceOptions, chooseOrchestrators } from './choose.ts';
import type { Located } from './locator.ts';
import type { OrchestratorRecord } from './records.ts';

const { Packet } = DNS;
type Packet = DNS.Packet;
type Resource = DNS.Packet.Resource;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;
const RCODE_NAMES = new Map<number, string>(Object.entries(RCODE).map(([name, code]) => [code, name]));
const TYPE_NAMES = new Map<number, string>(Object.entries(Packet.TYPE).map(([name, code]) => [code, name]));
const { A, AAAA, NS, SOA, ANY, EDNS } = Packet.TYPE;
const IN = Packet.CLASS.IN;
const ECS = Packet.EDNS_OPTION_CODE.ECS;
/** The UDP payload size we announce (the DNS flag day 2020 value: no IP fragmentation). */
export const EDNS_UDP_PAYLOAD = 1232;

export const typeName = (type: number) => TYPE_NAMES.get(type) ?? `TYPE${type}`;
export const rcodeName = (rcode: number) => RCODE_NAMES.get(rcode) ?? `RCODE${rcode}`;

export interface ZoneConfig {
  /** Lower case, no trailing dot. */
  zone: string;
  name: string;
  ttlSeconds: number;
  /** The zone's name server (`ns.<zone>`) and the addresses it answers with for itself. */
  nsName: string;
  nsAddresses: readonly string[];
}

export interface AnswerDeps {
  zone: ZoneConfig;
  /** SOA serial: changes whenever the orchestrator records change. */
  serial(): number;
  records(): readonly OrchestratorRecord[];
  locate(address: string): Located;
  choice: ChoiceOptions;
}

/** A client subnet option as RFC 7871 puts it on the wire (dns2's decoding). */
interface ClientSubnet {
  ednsCode: number;
  family: number;
  sourcePrefixLength: number;
  scopePrefixLength: number;
  ip: string;
}

export interface Answer {
  response: Packet;
  rcode: number;
  qtype: string;
  /** Orchestrators in the answer, best first. */
  chosen: OrchestratorRecord[];
  /** A query for the service name (answered with orchestrators, or with none when none is ready). */
  forService?: boolean;
  /** The address the client was placed by (ECS or source), and where. */
  client?: { address: string; via: 'ecs' | 'source'; located: Located };
  /** Why a query got FORMERR (for the log). */
  problem?: string;
}

interface Opt extends Resource {
  version?: number;
  rdata?: ClientSubnet[];
}

/** An OPT record announcing our UDP payload size (dns2's typings omit the options argument). */
const optRecord = (options: ClientSubnet[]): Resource =>
  (Packet.Resource.EDNS as unknown as (rdata: object[], opts: object) => Resource)(options, {
    udpPayloadSize: EDNS_UDP_PAYLOAD,
  });

function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Checks the parts of a query dns2 parses leniently; a reason when it is malformed. */
function malformation(request: Packet): string | undefined {
  const h = request.header;
  if (request.questions.length !== h.qdcount) return 'question section shorter than its count';
  if (request.answers.length !== h.ancount || request.authorities.length !== h.nscount)
    return 'record section shorter than its count';
  if (request.additionals.length !== h.arcount) return 'additional section shorter than its count';
  if (h.qdcount !== 1) return `${h.qdcount} questions (one expected)`;
  const opts = request.additionals.filter((r) => r.type === EDNS);
  if (opts.length > 1) return 'more than one OPT record';
  if (opts[0] && opts[0].name !== '') return 'OPT record not at the root';
  const question = request.questions[0];
  if (!question || typeof question.name !== 'string') return 'no question';
  if (question.name.length > 253) return 'question name longer than 253 characters';
  return undefined;
}

/** RFC 7871 §7.1.1: a malformed client subnet option is answered with FORMERR. */
function subnetProblem(subnet: ClientSubnet): string | undefined {
  const bits = subnet.family === 1 ? 32 : subnet.family === 2 ? 128 : 0;
  if (bits === 0) return `client subnet family ${subnet.family} unknown`;
  if (subnet.sourcePrefixLength > bits)
    return `client subnet source prefix ${subnet.sourcePrefixLength} > ${bits}`;
  if (subnet.scopePrefixLength !== 0) return 'client subnet scope prefix is not 0 in a query';
  const ip = parseIp(subnet.ip);
  if (!ip || (subnet.family === 1) !== (ip.family === 4))
    return 'client subnet address does not match its family';
  return undefined;
}

function baseResponse(request: Packet, rcode: number, withQuestion: boolean): Packet {
  const response = new Packet();
  response.header = new Packet.Header({
    id: request.header.id,
    qr: 1,
    opcode: request.header.opcode,
    rd: request.header.rd,
    rcode,
  });
  if (withQuestion) response.questions = request.questions.slice(0, 1);
  return response;
}

/**
 * The answer to one parsed query, or undefined when it must not be answered (it is a response).
 * Pure: the records, the locator and the clock come in through `deps`.
 */
export function answerQuery(request: Packet, sourceAddress: string, deps: AnswerDeps): Answer | undefined {
  if (request.header.qr === 1) return undefined;
  const question = request.questions[0];
  const qtype = question ? typeName(question.type) : 'NONE';
  const badShape = malformation(request);
  const opt = badShape ? undefined : (request.additionals.find((r) => r.type === EDNS) as Opt | undefined);
  const fail = (rcode: number, problem?: string): Answer => {
    const response = baseResponse(request, rcode, rcode !== RCODE.FORMERR);
    if (opt) response.additionals.push(optRecord([])); // RFC 6891 §7: an OPT query gets an OPT back
    return { response, rcode, qtype, chosen: [], ...(problem ? { problem } : {}) };
  };
  if (badShape) return fail(RCODE.FORMERR, badShape);
  if (request.header.opcode !== 0) return fail(RCODE.NOTIMP);
  const subnet = opt?.rdata?.find((o) => o.ednsCode === ECS);
  if (subnet) {
    const problem = subnetProblem(subnet);
    if (problem) return fail(RCODE.FORMERR, problem);
  }
  if (opt && (opt.version ?? 0) > 0) return fail(RCODE.BADVERS);
  const q = question as DNS.Packet.Question;
  const name = normalize(q.name);
  const { zone } = deps;
  const inZone = name === zone.zone || name.endsWith(`.${zone.zone}`);
  if (!inZone || (q.class !== IN && q.class !== Packet.CLASS.ANY)) return fail(RCODE.REFUSED);

  const viaEcs = subnet !== undefined && subnet.sourcePrefixLength > 0;
  const address = viaEcs ? subnet.ip : sourceAddress;
  const located = deps.locate(address);
  const response = baseResponse(request, RCODE.NOERROR, true);
  response.header.aa = 1;
  const record = (type: number, data: Partial<Resource>): Resource =>
    Object.assign(new Packet.Resource(q.name, type, IN, zone.ttlSeconds), data);
  const soa = (): Resource =>
    Object.assign(new Packet.Resource(zone.zone, SOA, IN, zone.ttlSeconds), {
      primary: zone.nsName,
      admin: `hostmaster.${zone.zone}`,
      serial: deps.serial(),
      refresh: 3600,
      retry: 600,
      expiration: 86_400,
      minimum: zone.ttlSeconds,
    });
  let chosen: OrchestratorRecord[] = [];

  const wants = (type: number) => q.type === type || q.type === ANY;
  if (name === zone.name) {
    const all = deps.records();
    for (const [type, isFamily] of [
      [A, isIPv4],
      [AAAA, isIPv6],
    ] as const) {
      if (!wants(type)) continue;
      const picked = chooseOrchestrators(
        all.filter((r) => isFamily(r.host)),
        located.location,
        deps.choice,
      );
      chosen = chosen.concat(picked);
      for (const r of picked) response.answers.push(record(type, { address: r.host }));
    }
  } else if (name === zone.zone) {
    if (wants(SOA)) response.answers.push(soa());
    if (wants(NS)) response.answers.push(record(NS, { ns: zone.nsName }));
  } else if (name === zone.nsName) {
    for (const address of zone.nsAddresses) {
      if (isIPv4(address) && wants(A)) response.answers.push(record(A, { address }));
      if (isIPv6(address) && wants(AAAA)) response.answers.push(record(AAAA, { address }));
    }
  } else if (!zone.name.endsWith(`.${name}`) && !zone.nsName.endsWith(`.${name}`)) {
    response.header.rcode = RCODE.NXDOMAIN;
  }
  if (response.answers.length === 0) response.authorities.push(soa()); // RFC 2308: negative caching
  if (opt) {
    const echo: ClientSubnet[] = subnet
      ? [{ ...subnet, scopePrefixLength: located.source === 'unknown' ? 0 : located.prefix }]
      : [];
    response.additionals.push(optRecord(echo));
  }
  return {
    response,
    rcode: response.header.rcode,
    qtype,
    chosen,
    ...(name === zone.name ? { forService: true } : {}),
    client: { address, via: viaEcs ? 'ecs' : 'source', located },
  };
}
