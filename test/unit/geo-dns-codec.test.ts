import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import DNS from 'dns2';
import { dns2Codec, FastReader, FastWriter, installFastCodec } from '../../geo-dns/fast-codec.ts';

const { Packet } = DNS;
type Codec = { Reader: unknown; Writer: unknown };

function withCodec<T>(codec: Codec, work: () => T): T {
  const packet = Packet as unknown as Codec;
  const saved = { Reader: packet.Reader, Writer: packet.Writer };
  Object.assign(packet, codec);
  try {
    return work();
  } finally {
    Object.assign(packet, saved);
  }
}

function samplePacket(seed: number): DNS.Packet {
  const p = new Packet();
  p.header.id = seed & 0xffff;
  p.header.qr = (seed & 1) as 0 | 1;
  p.header.opcode = seed % 3;
  p.header.aa = ((seed >> 1) & 1) as 0 | 1;
  p.header.rd = ((seed >> 2) & 1) as 0 | 1;
  p.header.rcode = seed % 6;
  p.questions.push({
    name: `mqtt${seed}.brokel.test`,
    type: Packet.TYPE.A,
    class: Packet.CLASS.IN,
  } as DNS.Packet.Question);
  p.answers.push(
    Object.assign(new Packet.Resource(`mqtt${seed}.brokel.test`, Packet.TYPE.A, Packet.CLASS.IN, 5), {
      address: `127.0.${seed % 256}.1`,
    }),
    Object.assign(new Packet.Resource(`mqtt${seed}.brokel.test`, Packet.TYPE.AAAA, Packet.CLASS.IN, 5), {
      address: `2001:db8::${seed % 65_536}`,
    }),
  );
  p.authorities.push(
    Object.assign(new Packet.Resource('brokel.test', Packet.TYPE.SOA, Packet.CLASS.IN, 5), {
      primary: 'ns.brokel.test',
      admin: 'hostmaster.brokel.test',
      serial: 4_000_000_000 + seed,
      refresh: 3600,
      retry: 600,
      expiration: 86_400,
      minimum: 5,
    }),
  );
  const ecs = (Packet.Resource.EDNS as unknown as { ECS: (ip: string) => object }).ECS(
    `10.${seed % 256}.0.0/${8 + (seed % 25)}`,
  );
  p.additionals.push(Packet.Resource.EDNS([ecs]));
  return p;
}

describe('geo-dns: the fast codec', () => {
  it('encodes exactly what dns2 encodes', () => {
    for (let seed = 0; seed < 200; seed++) {
      const slow = withCodec(dns2Codec(), () => samplePacket(seed).toBuffer());
      const fast = withCodec({ Reader: FastReader, Writer: FastWriter }, () => samplePacket(seed).toBuffer());
      assert.deepEqual(fast, slow, `seed ${seed}`);
    }
  });

  it('decodes exactly what dns2 decodes, and fails where dns2 fails, on valid and random input', () => {
    const inputs = [
      ...Array.from({ length: 100 }, (_, seed) =>
        withCodec(dns2Codec(), () => samplePacket(seed).toBuffer()),
      ),
      ...Array.from({ length: 300 }, (_, i) => {
        // Random, but with small section counts: dns2 tries every counted record, slowly.
        const b = randomBytes(i % 200);
        for (let at = 4; at < Math.min(12, b.length); at += 2) b[at] = 0;
        for (let at = 5; at < Math.min(12, b.length); at += 2) b[at] = (b[at] ?? 0) % 4;
        return b;
      }),
    ];
    for (const input of inputs) {
      const decode = (codec: Codec) =>
        withCodec(codec, () => {
          try {
            return JSON.stringify(Packet.parse(input));
          } catch (err) {
            return `error: ${(err as Error).name}`;
          }
        });
      assert.equal(
        decode({ Reader: FastReader, Writer: FastWriter }),
        decode(dns2Codec()),
        input.toString('hex'),
      );
    }
  });

  it('is what installFastCodec puts in dns2', () => {
    const saved = { Reader: Packet.Reader, Writer: Packet.Writer };
    installFastCodec();
    assert.equal(Packet.Reader as unknown, FastReader);
    assert.equal(Packet.Writer as unknown, FastWriter);
    Object.assign(Packet, saved);
  });
});
