import { watchOutputs } from '../common/closed-output.ts';
import { ConfigError, errorMessage } from '../common/errors.ts';
import { createRootLogger } from '../common/logger.ts';
import { parseCommandArgs } from './args.ts';
import { COMMANDS, commandHelp, mainUsage, wantsHelp } from './help.ts';
import { chooseLogFormat, takeLogFormat } from './log-format.ts';

// Each command's module is imported when that command runs: `brokel help` and `brokel X --help`
// start without loading the MQTT, Kubernetes and provider code.

async function main(args: string[]): Promise<number> {
  const { argv, format } = takeLogFormat(args);
  const logFormat = chooseLogFormat(format, process.env.BROKEL_LOG_FORMAT, process.stdout.isTTY === true);
  const [command, ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h' || command === undefined) {
    const topic = rest[0] === '--help' || rest[0] === '-h' ? 'help' : rest[0];
    const text = topic === undefined ? mainUsage() : await commandHelp(topic);
    if (text === undefined) {
      console.error(`brokel: no command ${JSON.stringify(topic)}\n\n${mainUsage()}`);
      return 2;
    }
    console.log(text);
    return command === undefined ? 2 : 0;
  }
  if (wantsHelp(rest) && COMMANDS[command]) {
    console.log(await commandHelp(command));
    return 0;
  }
  const log = createRootLogger({ level: process.env.BROKEL_LOG_LEVEL ?? 'info', format: logFormat });
  switch (command) {
    case 'up': {
      // The manager is a long-lived, slowly allocating process: V8's default heap growth (the old
      // generation's next limit at least 8 MB above what survived a collection) took its committed heap
      // 31 → 39 MB over its first 10 minutes, the bulk of the 60-minute soak's +6.3 % RSS (issue #17).
      // Set at run time, the flag changes the heap's growth policy (a 2 MB step, a smaller factor), not
      // the young generation's size, which is fixed at start-up (docs/faults-and-security.md, soak).
      // The data plane runs in other processes; geo-dns here answers once per client connect.
      (await import('node:v8')).setFlagsFromString('--optimize-for-size');
      const { values } = parseCommandArgs('up', rest, {
        config: { type: 'string', short: 'c' },
        'keep-replicas': { type: 'boolean' },
      });
      const { loadConfig } = await import('../common/config/load.ts');
      const { checkTemplateNames } = await import('./check-templates.ts');
      const config = await loadConfig(values.config);
      checkTemplateNames(config, values.config);
      await (await import('./up.ts')).runUp(config, values.config, log, {
        keepReplicas: values['keep-replicas'] ?? false,
      });
      return 0;
    }
    case 'down': {
      const { values } = parseCommandArgs('down', rest, { config: { type: 'string', short: 'c' } });
      const { loadConfig } = await import('../common/config/load.ts');
      return (await import('./down.ts')).runDown(await loadConfig(values.config), log);
    }
    case 'orchestrator':
      await (await import('./orchestrator.ts')).runOrchestrator(rest, {
        ...process.env,
        BROKEL_LOG_FORMAT: logFormat,
      });
      return 0;
    case 'dns':
      return (await import('./dns.ts')).runDns(rest, log);
    case 'cloud':
      return (await import('./cloud.ts')).runCloud(rest, log);
    case 'taxi':
      return (await import('./taxi.ts')).runTaxi(rest, log);
    case 'scenario':
      return (await import('./scenario.ts')).runScenario(rest, log);
    case 'simulate': // cli/simulate.ts SIMULATE_USAGE: the policies over the 30-day trace, no processes
      return (await import('./simulate.ts')).runSimulate(rest);
    case 'calibrate': // cli/calibrate.ts CALIBRATE_USAGE: the capacity curve, measured on local processes
      return (await import('./calibrate.ts')).runCalibrate(rest);
    case 'status': {
      const { values } = parseCommandArgs('status', rest, {
        json: { type: 'boolean' },
        watch: { type: 'boolean' },
        every: { type: 'string' },
        config: { type: 'string', short: 'c' },
      });
      const every = values.every === undefined ? 2 : Number(values.every);
      if (!(every >= 0.2 && every <= 3600))
        throw new ConfigError([
          { path: '--every', message: `${values.every} is not between 0.2 and 3600 seconds` },
        ]);
      return (await import('./status.ts')).runStatus({
        json: values.json ?? false,
        file: values.config,
        watch: values.watch ?? false,
        everySeconds: every,
        envToken: process.env.BROKEL_ADMIN_TOKEN,
      });
    }
    case 'scale': {
      const { values, positionals } = parseCommandArgs('scale', rest, {
        config: { type: 'string', short: 'c' },
      });
      return (await import('./scale.ts')).runScale(
        positionals,
        values.config,
        process.env.BROKEL_ADMIN_TOKEN,
      );
    }
    case 'rebalance': {
      const { values } = parseCommandArgs('rebalance', rest, { config: { type: 'string', short: 'c' } });
      return (await import('./rebalance.ts')).runRebalance(values.config, process.env.BROKEL_ADMIN_TOKEN);
    }
    case 'config': {
      const [sub, file] = rest;
      if (sub !== 'check' || !file)
        throw new ConfigError([{ path: 'config', message: 'usage: brokel config check FILE' }]);
      const { loadConfig } = await import('../common/config/load.ts');
      const { checkTemplateNames } = await import('./check-templates.ts');
      const config = await loadConfig(file);
      checkTemplateNames(config, file);
      console.log(`${file}: valid`);
      console.log(JSON.stringify(config, null, 2));
      return 0;
    }
    default:
      console.error(`brokel: unknown command ${JSON.stringify(command)}\n\n${mainUsage()}`);
      return 2;
  }
}

// A reader that leaves (`brokel … | head`) ends no command mid-way (common/closed-output.ts).
watchOutputs();
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
