import type { TestContext } from 'node:test';
import type { BrokelConfigInput } from '../../common/config/schema.ts';
import type { DnsRegistry } from '../../manager/dns-registry.ts';
import { startManagerOn } from './remote-provider.ts';
import { startProvider } from './resources.ts';

/** A manager over a fresh local provider, stopped (and everything destroyed) at teardown. */
export async function startManager(t: TestContext, input: BrokelConfigInput, dns?: DnsRegistry) {
  const provider = await startProvider(t);
  return { ...(await startManagerOn(t, provider, input, dns)), provider };
}
