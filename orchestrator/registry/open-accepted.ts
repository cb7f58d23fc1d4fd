import type { Upstream } from '../session/upstream.ts';

/**
 * Opens one of the registry's own connections (reads, probes, presence, a recreated session) and
 * resolves once the broker accepted it; a refusal rejects with `broker <id> refused <what> (<code>)`.
 */
export async function openAccepted(upstream: Upstream, brokerId: string, what: string): Promise<void> {
  const connack = await upstream.open();
  const code = connack.returnCode ?? connack.reasonCode ?? 0;
  if (code !== 0) throw new Error(`broker ${brokerId} refused ${what} (${code})`);
}
