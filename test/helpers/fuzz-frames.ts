import { encode, mutate, type Rng, randomPacket } from './mqtt-wire.ts';

/** A PINGREQ (the same bytes at every level): a probe whose PINGRESP shows the server read what came before. */
export const PINGREQ = encode({ cmd: 'pingreq' }, 4);

/** One fuzz case: random bytes, a valid packet, a mutated one, or several merged in one write. */
export function fuzzCase(
  rng: Rng,
  version: 4 | 5,
  tag: string,
  first: boolean,
): { bytes: Buffer; label: string } {
  const packetBytes = (withConnect: boolean): { bytes: Buffer; label: string } => {
    const v = rng.chance(0.1) ? (version === 5 ? 4 : 5) : version; // sometimes the wrong level
    const packet = randomPacket(rng, v, tag, withConnect);
    try {
      return { bytes: encode(packet, v), label: `${packet.cmd}@v${v}` };
    } catch {
      return { bytes: PINGREQ, label: `pingreq (${packet.cmd}@v${v} did not encode)` };
    }
  };
  const one = (): { bytes: Buffer; label: string } => {
    const r = rng.next();
    if (r < 0.2) return { bytes: rng.bytes(rng.range(1, 64)), label: 'random bytes' };
    const valid = packetBytes(first);
    if (r < 0.3) return valid;
    const m = mutate(valid.bytes, rng);
    return { bytes: m.bytes, label: `${valid.label} ${m.how}` };
  };
  if (rng.chance(0.85)) return one();
  const parts = Array.from({ length: rng.range(2, 4) }, one);
  return {
    bytes: Buffer.concat(parts.map((p) => p.bytes)),
    label: `merged[${parts.map((p) => p.label).join(', ')}]`,
  };
}
