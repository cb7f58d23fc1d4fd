import { loadConfig } from '../common/config/load.ts';
import { ConfigError, errorMessage } from '../common/errors.ts';
import { createRootLogger } from '../common/logger.ts';
import { parseCommandArgs } from './args.ts';
import { checkTemplateNames } from './check-templates.ts';
import { CLOUD_USAGE, runCloud } from './cloud.ts';
import { DNS_USAGE, runDns } from './dns.ts';
import { ORCHESTRATOR_USAGE, runOrchestrator } from './orchestrator.ts';
import { runRebalance } from './rebalance.ts';
import { runScenario, SCENARIO_USAGE } from './scenario.ts';
import { runStatus } from './status.ts';
import { runTaxi, TAXI_USAGE } from './taxi.ts';
import { runUp } from './up.ts';

const USAGE = `usage: brokel <command> [options]

commands:
  up [-c FILE]             run the system on the embedded default (local processes)
  status [--json] [-c FILE] levels, replicas, loads, thresholds and the last decisions of a running manager
  rebalance [-c FILE]      move clients from the busiest orchestrators to the least busy (docs/rebalancing.md)
  config check FILE        validate a brokel.yaml and print the effective config
  ${ORCHESTRATOR_USAGE}
                           run one orchestrator replica (MQTT proxy + admin API)
  ${DNS_USAGE}
  ${CLOUD_USAGE}
  ${TAXI_USAGE}
  ${SCENARIO_USAGE}
  help                     this text

environment: BROKEL_LOG_LEVEL (default info), BROKEL_ADMIN_TOKEN (orchestrator admin token)`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const log = createRootLogger({ level: process.env.BROKEL_LOG_LEVEL ?? 'info' });
  switch (command) {
    case 'up': {
      const { values } = parseCommandArgs('up', rest, { config: { type: 'string', short: 'c' } });
      const config = await loadConfig(values.config);
      checkTemplateNames(config, values.config);
      await runUp(config, values.config, log);
      return 0;
    }
    case 'orchestrator':
      await runOrchestrator(rest, process.env);
      return 0;
    case 'dns':
      return runDns(rest, log);
    case 'cloud':
      return runCloud(rest, log);
    case 'taxi':
      return runTaxi(rest, log);
    case 'scenario':
      return runScenario(rest, log);
    case 'status': {
      const { values } = parseCommandArgs('status', rest, {
        json: { type: 'boolean' },
        config: { type: 'string', short: 'c' },
      });
      return runStatus(values.json ?? false, values.config);
    }
    case 'rebalance': {
      const { values } = parseCommandArgs('rebalance', rest, { config: { type: 'string', short: 'c' } });
      return runRebalance(values.config);
    }
    case 'config': {
      const [sub, file] = rest;
      if (sub !== 'check' || !file)
        throw new ConfigError([{ path: 'config', message: 'usage: brokel config check FILE' }]);
      const config = await loadConfig(file);
      checkTemplateNames(config, file);
      console.log(`${file}: valid`);
      console.log(JSON.stringify(config, null, 2));
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`brokel: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
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
