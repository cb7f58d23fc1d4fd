import DNS from 'dns2';
import { RCODE } from './answer.ts';
import { installFastCodec } from './fast-codec.ts';

const { Packet } = DNS;
installFastCodec();

/** Smallest question (root name, type, class) and resource record (root, type, class, TTL, RDLENGTH). */
const MIN_QUESTION = 5;
const MIN_RECORD = 11;

/**
 * A query as dns2 parses it, or why it cannot be one. Section counts are checked against the
 * packet's size first: dns2 tries every counted record (catching each failure), so a 12-byte packet
 * claiming 4 × 65 535 records would cost a quarter of a million exceptions.
 */
export function decodeQuery(data: Buffer): { packet: DNS.Packet } | { error: string } {
  if (data.length < 12) return { error: `${data.length} bytes: shorter than a DNS header` };
  const qd = data.readUInt16BE(4);
  const records = data.readUInt16BE(6) + data.readUInt16BE(8) + data.readUInt16BE(10);
  if (qd * MIN_QUESTION + records * MIN_RECORD > data.length - 12)
    return {
      error: `section counts (${qd} questions, ${records} records) do not fit in ${data.length} bytes`,
    };
  try {
    return { packet: Packet.parse(data) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** A header-only FORMERR for a query too broken to parse (its id, opcode and RD kept), or undefined. */
export function formErrFor(data: Buffer): Buffer | undefined {
  if (data.length < 12 || (data[2] ?? 0) & 0x80) return undefined; // no header, or a response
  const out = Buffer.alloc(12);
  data.copy(out, 0, 0, 2);
  out[2] = 0x80 | ((data[2] ?? 0) & 0x79);
  out[3] = RCODE.FORMERR;
  return out;
}
