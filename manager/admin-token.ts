import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The one name of the token file in a deployment's state dir. */
const TOKEN_FILE = 'admin-token';
/** A kept token shorter than this is not one `brokel up` wrote (it writes 48 hex digits). */
const MIN_TOKEN_LENGTH = 16;

/** The token kept in `stateDir` by an earlier `brokel up`, or undefined when there is none (or it is too short). */
export async function keptAdminToken(stateDir: string): Promise<string | undefined> {
  const kept = await readFile(join(stateDir, TOKEN_FILE), 'utf8').catch(() => undefined);
  const token = kept?.trim();
  return token && token.length >= MIN_TOKEN_LENGTH ? token : undefined;
}

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
  const kept = await keptAdminToken(stateDir);
  if (kept) return kept;
  const token = randomBytes(24).toString('hex');
  await writeFile(join(stateDir, TOKEN_FILE), token, { mode: 0o600 });
  return token;
}

/** Removes the kept token when the deployment is stopped for good (its replicas are gone). */
export async function forgetDeploymentAdminToken(stateDir: string): Promise<void> {
  await rm(join(stateDir, TOKEN_FILE), { force: true });
}
