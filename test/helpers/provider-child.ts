// A stand-in for a manager process: starts a local provider for the deployment in argv[2], creates
// argv[3] Mosquitto replicas, prints one JSON line describing them, and stops everything on SIGTERM.
import { createRootLogger } from '../../common/logger.ts';
import { onShutdown } from '../../common/shutdown.ts';
import { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import { localConfig } from './resources.ts';

const [deployment = 'child', count = '1'] = process.argv.slice(2);
const log = createRootLogger({ level: 'warn', destination: process.stderr });
const provider = await LocalProvider.start({
  deployment,
  config: localConfig(),
  logger: log,
  pollIntervalMs: 50,
});
onShutdown(() => provider.stop(), log);
const replicas = [];
for (let i = 0; i < Number(count); i++) {
  const r = await provider.create('broker', 'mosquitto', { cpuQuota: 0.5 });
  replicas.push(await provider.waitReady(r.id, 10_000));
}
const out = replicas.map((r) => ({ id: r.id, url: r.url, pid: provider.details(r.id)?.pid }));
process.stdout.write(`${JSON.stringify({ stateDir: provider.stateDir, replicas: out })}\n`);
setInterval(() => undefined, 1 << 30);
