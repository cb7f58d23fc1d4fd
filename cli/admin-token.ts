import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrokelConfig } from '../common/config/schema.ts';
import { keptAdminToken } from '../manager/admin-token.ts';

/**
 * The deployment's admin token for a command that talks to the manager API: BROKEL_ADMIN_TOKEN, the
 * configured `manager.adminToken`, or the one `brokel up` keeps in its state dir; undefined if none.
 */
export async function adminToken(
  config: BrokelConfig,
  given: string | undefined,
): Promise<string | undefined> {
  if (given) return given;
  if (config.manager.adminToken) return config.manager.adminToken;
  const dirs = [join(tmpdir(), 'brokel', config.deployment)];
  if (config.provider.kind === 'local' && config.provider.local.stateDir)
    dirs.unshift(config.provider.local.stateDir);
  for (const dir of dirs) {
    const kept = await keptAdminToken(dir);
    if (kept) return kept;
  }
  return undefined;
}

/** The Authorization header carrying it (RFC 6750 §2.1), or none. */
export function authorization(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}
