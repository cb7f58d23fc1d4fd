import type { MqttClient } from 'mqtt';
import { CLAIM_TOPIC } from '../../orchestrator/registry/claims.ts';

/**
 * Plays another orchestrator replica announcing a claim (orchestrator/registry/claims.ts): publishes
 * `payload` on the claim topic, straight on a broker, every 100 ms until `done()` or 5 s (the replica's
 * presence connection may not have subscribed yet).
 */
export async function claimUntil(
  other: MqttClient,
  payload: Buffer | string,
  done: () => boolean,
): Promise<void> {
  const until = Date.now() + 5000;
  while (!done() && Date.now() < until) {
    await other.publishAsync(CLAIM_TOPIC, payload, { qos: 0 });
    await new Promise((r) => setTimeout(r, 100));
  }
}
