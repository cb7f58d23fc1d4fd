import { loadConfig } from '../common/config/load.ts';
import { ConfigError } from '../common/errors.ts';
import { adminToken } from './admin-token.ts';

const LEVELS = ['brokers', 'orchestrators'];

/** `brokel scale brokers|orchestrators N|auto [-c FILE]`: the manager API's POST /api/scale. */
export async function runScale(
  positionals: readonly string[],
  file: string | undefined,
  envToken: string | undefined,
): Promise<number> {
  const [level, wanted, extra] = positionals;
  if (level === undefined || !LEVELS.includes(level) || wanted === undefined || extra !== undefined)
    throw new ConfigError([{ path: 'scale', message: 'usage: brokel scale brokers|orchestrators N|auto' }]);
  const target = wanted === 'auto' ? 'auto' : Number(wanted);
  if (target !== 'auto' && !(Number.isInteger(target) && target >= 0))
    throw new ConfigError([
      { path: 'scale', message: `${JSON.stringify(wanted)} is not a replica count or auto` },
    ]);
  const config = await loadConfig(file);
  const token = await adminToken(config, envToken);
  if (!token)
    throw new ConfigError([
      { path: 'scale', message: 'no admin token: set BROKEL_ADMIN_TOKEN or manager.adminToken' },
    ]);
  const url = `http://${config.api.listen}/api/scale`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ level, target }),
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    console.error(`brokel scale: no manager answers at ${url} (${(err as Error).message})`);
    return 1;
  }
  const body = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok) {
    console.error(`brokel scale: ${response.status} ${body.error ?? ''}`);
    return response.status === 400 ? 2 : 1;
  }
  console.log(
    target === 'auto'
      ? `${level}: back to the ${config.policy} policy`
      : `${level}: manual target ${target} (the manager steps one replica at a time; \`brokel scale ${level} auto\` hands it back)`,
  );
  return 0;
}
