import type { TestContext } from 'node:test';
import { type FaultRelay, openFaultRelay } from '../../workload/chaos/fault-relay.ts';

export type { FaultRelay };

/** A fault relay (workload/chaos/fault-relay.ts) on 127.0.0.1 to target; closed at teardown. */
export async function startFaultRelay(
  t: TestContext,
  target: { host: string; port: number },
): Promise<FaultRelay> {
  const relay = await openFaultRelay(target);
  t.after(() => relay.close());
  return relay;
}
