import { ConfigError, errorMessage } from '../common/errors.ts';
import { createRootLogger } from '../common/logger.ts';
import { parseCommandArgs } from './args.ts';

// Each command's module is imported when that command runs: an orchestrator replica must not load
// what only the manager, geo-dns (maxmind and its GeoLite database), the providers
// (@kubernetes/client-node) or the workload need (idle RSS 221 MB → see docs/data-plane.md).
const loadConfigFile = async (file: string | undefined) =>
  (await import('../common/config/load.ts')).loadConfig(file);
const checkTemplates = async (
  ...args: Parameters<typeof import('./check-templates.ts').checkTemplateNames>
) => (await import('./check-templates.ts')).checkTemplateNames(...args);

/** The usage text names every command's flags: built on demand, since it loads every command. */
async function usage(): Promise<string> {
  const [{ ORCHESTRATOR_USAGE }, { DNS_USAGE }, { CLOUD_USAGE }, { TAXI_USAGE }, { SCENARIO_USAGE }] =
    await Promise.all([
      import('./orchestrator.ts'),
      import('./dns.ts'),
      import('./cloud.ts'),
      import('./taxi.ts'),
      import('./scenario.ts'),
    ]);
  return `usage: brokel <command> [options]

commands:
  up [-c FILE]             run the system on the embedded default (local processes)
  status [--json] [-c FILE] levels, replicas, loads, thresholds and the last decisions of a running manager
  config check FILE        validate a brokel.yaml and print the effective config
  ${ORCHESTRATOR_USAGE}
                           run one orchestrator replica (MQTT proxy + admin API)
  ${DNS_USAGE}
  ${CLOUD_USAGE}
  ${TAXI_USAGE}
  ${SCENARIO_USAGE}
  help                     this text

environment: BROKEL_LOG_LEVEL (default info), BROKEL_ADMIN_TOKEN (orchestrator admin token)`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const log = createRootLogger({ level: process.env.BROKEL_LOG_LEVEL ?? 'info' });
  switch (command) {
    case 'up': {
      const { values } = parseCommandArgs('up', rest, { config: { type: 'string', short: 'c' } });
      const config = await loadConfigFile(values.config);
      await checkTemplates(config, values.config);
      await (await import('./up.ts')).runUp(config, values.config, log);
      return 0;
    }
    case 'orchestrator':
      await (await import('./orchestrator.ts')).runOrchestrator(rest, process.env);
      return 0;
    case 'dns':
      return (await import('./dns.ts')).runDns(rest, log);
    case 'cloud':
      return (await import('./cloud.ts')).runCloud(rest, log);
    case 'taxi':
      return (await import('./taxi.ts')).runTaxi(rest, log);
    case 'scenario':
      return (await import('./scenario.ts')).runScenario(rest, log);
    case 'status': {
      const { values } = parseCommandArgs('status', rest, {
        json: { type: 'boolean' },
        config: { type: 'string', short: 'c' },
      });
      return (await import('./status.ts')).runStatus(values.json ?? false, values.config);
    }
    case 'config': {
      const [sub, file] = rest;
      if (sub !== 'check' || !file)
        throw new ConfigError([{ path: 'config', message: 'usage: brokel config check FILE' }]);
      const config = await loadConfigFile(file);
      await checkTemplates(config, file);
      console.log(`${file}: valid`);
      console.log(JSON.stringify(config, null, 2));
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(await usage());
      return command === undefined ? 2 : 0;
    default:
      console.error(`brokel: unknown command ${JSON.stringify(command)}\n\n${await usage()}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(
      err instanceof ConfigError
        ? `brokel: invalid configuration: ${err.message}`
        : `brokel: ${errorMessage(err)}`,
    );
    process.exitCode = err instanceof ConfigError ? 2 : 1;
  },
);
