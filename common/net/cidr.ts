import { isIPv4, isIPv6 } from 'node:net';

/** An address as a number, with its family: IPv4 in 32 bits, IPv6 in 128. */
export interface IpNumber {
  family: 4 | 6;
  value: bigint;
}

export interface Cidr extends IpNumber {
  prefix: number;
}

const MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** Parses an IPv4 or IPv6 address (IPv4-mapped IPv6 counts as IPv4); undefined when it is none. */
export function parseIp(text: string): IpNumber | undefined {
  const mapped = MAPPED.exec(text);
  const address = mapped?.[1] ?? text;
  if (isIPv4(address)) {
    const value = address.split('.').reduce((n, octet) => (n << 8n) | BigInt(Number(octet)), 0n);
    return { family: 4, value };
  }
  if (!isIPv6(address) || address.includes('.') || address.includes('%')) return undefined;
  const [head = '', tail] = address.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const value = all.reduce((n, group) => (n << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
  return { family: 6, value };
}

/** `a.b.c.d/n` or `x::y/n`; the host bits are cleared. Undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const bits = ip.family === 4 ? 32 : 128;
  if (prefix > bits) return undefined;
  return { family: ip.family, prefix, value: ip.value & mask(prefix, bits) };
}

function mask(prefix: number, bits: number): bigint {
  const all = (1n << BigInt(bits)) - 1n;
  return prefix === 0 ? 0n : all ^ ((1n << BigInt(bits - prefix)) - 1n);
}

export function cidrContains(cidr: Cidr, ip: IpNumber): boolean {
  if (cidr.family !== ip.family) return false;
  const bits = cidr.family === 4 ? 32 : 128;
  return (ip.value & mask(cidr.prefix, bits)) === cidr.value;
}
