import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The token the manager and its orchestrators share: the configured one, else the one kept in the
 * deployment's state dir (so a manager restarted after SIGKILL can still talk to the orchestrators
 * it adopts), else a new random one written there (mode 0600).
 */
export async function deploymentAdminToken(
  configured: string | undefined,
  stateDir: string,
): Promise<string> {
  if (configured !== undefined) return configured;
  const file = join(stateDir, 'admin-token');
  try {
    const kept = (await readFile(file, 'utf8')).trim();
    if (kept.length >= 16) return kept;
  } catch {}
  const token = randomBytes(24).toString('hex');
  await writeFile(file, token, { mode: 0o600 });
  return token;
}

/** Removes the kept token when the deployment is stopped for good (its replicas are gone). */
export async function forgetDeploymentAdminToken(stateDir: string): Promise<void> {
  await rm(join(stateDir, 'admin-token'), { force: true });
}
