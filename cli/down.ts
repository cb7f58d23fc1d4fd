import type { BrokelConfig } from '../common/config/schema.ts';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { forgetDeploymentAdminToken } from '../manager/admin-token.ts';
import { forgetDeploymentBrokerTls } from '../manager/broker-tls.ts';
import { forgetManualTargets } from '../manager/manual-targets.ts';
import { createProvider } from '../manager/providers/create-provider.ts';

export const DOWN_USAGE =
  'down [-c FILE]           tear a deployment down: destroy every replica, for any provider';

/** True when a manager answers on the configured API (it would recreate what `down` destroys). */
async function managerRunning(config: BrokelConfig): Promise<boolean> {
  try {
    await fetch(`http://${config.api.listen}/api/status`, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

/**
 * `brokel down [-c FILE]`: the one command that removes a deployment's replicas (stopping a manager
 * never does, except the local demo's Ctrl-C): opens the configured provider (local, kubernetes or
 * opennebula), destroys every replica it lists for `deployment`, and forgets the admin token (and the brokers' CA).
 * Refuses while a manager still answers on api.listen: it would create the minimum again.
 */
export async function runDown(config: BrokelConfig, log: Logger): Promise<number> {
  if (await managerRunning(config)) {
    console.error(
      `brokel down: a manager still answers on ${config.api.listen}; stop it first (it would recreate the replicas).`,
    );
    return 1;
  }
  const provider = await createProvider(config, log.child({ component: 'provider' }));
  const replicas = await provider.list();
  // The token first: stop() then removes the deployment's folder once it is empty.
  await forgetDeploymentAdminToken(provider.stateDir);
  await forgetManualTargets(provider.stateDir);
  await forgetDeploymentBrokerTls(provider.stateDir); // brokers.tls: the CA goes with its replicas
  try {
    await provider.stop();
  } catch (err) {
    console.error(`brokel down: ${errorMessage(err)}`);
    return 1;
  }
  console.log(
    `brokel: deployment ${config.deployment} (${provider.kind}) is down: ${replicas.length} replica(s) destroyed.`,
  );
  for (const r of replicas) console.log(`  ${r.level.padEnd(12)} ${r.id}`);
  return 0;
}
