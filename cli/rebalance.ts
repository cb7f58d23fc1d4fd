import { loadConfig } from '../common/config/load.ts';
import { adminToken, authorization } from './admin-token.ts';

/** `brokel rebalance [-c FILE]`: asks the running manager to rebalance the orchestrators' sessions. */
export async function runRebalance(file: string | undefined, envToken: string | undefined): Promise<number> {
  const config = await loadConfig(file);
  const url = `http://${config.api.listen}/api/rebalance`;
  const headers = authorization(await adminToken(config, envToken));
  try {
    const response = await fetch(url, { method: 'POST', headers, signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
    const body = (await response.json()) as {
      rebalance: { kind: string; state: string; reason: string } | null;
    };
    console.log(
      `rebalance started (see \`brokel status\`): ${JSON.stringify(body.rebalance ?? { state: 'starting' })}`,
    );
    return 0;
  } catch (err) {
    console.error(`brokel rebalance: no manager answers at ${url} (${(err as Error).message})`);
    return 1;
  }
}
