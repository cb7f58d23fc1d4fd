/**
 * One command's help: its one-line summary (for `brokel help`) and its full text; a command whose
 * usage lives in its own module loads it only when asked, so `brokel help` stays quick.
 */
interface CommandHelp {
  summary: string;
  text: string | (() => Promise<string>);
}

const COMMON = `common options (any command):
  --log-format json|pretty  log lines as JSON or human-readable (default: pretty on a terminal, else JSON)
environment: BROKEL_LOG_LEVEL (default info), BROKEL_LOG_FORMAT, BROKEL_ADMIN_TOKEN`;

export const COMMANDS: Record<string, CommandHelp> = {
  up: {
    summary: 'run the whole system on this machine (local processes), with the dashboard',
    text: `usage: brokel up [-c FILE] [--keep-replicas]

Starts the minimum replicas of each level (Mosquitto/RabbitMQ brokers, orchestrators), geo-dns and the
manager's control loop, then prints where MQTT clients connect and where to open the dashboard.
The config file (brokel.yaml) is optional: every field has a default. Thresholds, min/max, α and the
interval reload when the file changes or on SIGHUP; fields that need a restart are reported.
Stopping the manager leaves the replicas running (a new \`brokel up\` adopts them; \`brokel down\`
removes them), except on the local provider, where Ctrl-C ends the demo: the clients are drained
and every replica is destroyed.

  -c, --config FILE   a brokel.yaml (see docs/configuration.md)
  --keep-replicas     local provider: keep the replicas running when the manager stops`,
  },
  down: {
    summary: 'tear a deployment down: destroy every replica, for any provider',
    text: `usage: brokel down [-c FILE]

Destroys every replica of the deployment named in the config (local, kubernetes or opennebula
provider) and forgets its admin token. Refuses while a manager still answers on api.listen.

  -c, --config FILE   the brokel.yaml of the deployment`,
  },
  status: {
    summary: 'levels, replicas, loads, thresholds and the last decisions of a running manager',
    text: `usage: brokel status [--json] [--watch [--every SECONDS]] [-c FILE]

Asks the manager API (api.listen of the config) and prints each level's load against its thresholds,
its replicas with their state and load, and the last decisions.

  --json              print the manager's JSON as it is
  --watch             redraw every few seconds until Ctrl-C (keeps trying while the manager is away)
  --every SECONDS     the --watch period (default 2)
  -c, --config FILE   the brokel.yaml the manager runs with (for api.listen)`,
  },
  scale: {
    summary: 'set a level to a replica count the policy keeps, or hand it back (auto)',
    text: `usage: brokel scale brokers|orchestrators N|auto [-c FILE]

Sets a manual target: the manager adds or removes one replica at a time (the usual actions: a broker
joins before it takes publishes, a draining one is emptied first) until the level has N replicas, and
keeps it there whatever the load, until \`brokel scale LEVEL auto\` hands the level back to the policy.
N must be within the level's min and max. Needs the deployment's admin token: BROKEL_ADMIN_TOKEN,
manager.adminToken in the config, or the token \`brokel up\` keeps in the deployment's state dir.

  -c, --config FILE   the brokel.yaml the manager runs with (for api.listen and the token)`,
  },
  rebalance: {
    summary: 'move clients from the busiest orchestrators to the least busy',
    text: `usage: brokel rebalance [-c FILE]

Asks the running manager (POST /api/rebalance on api.listen) to even out sessions across the
orchestrators: MQTT 5 clients get DISCONNECT 0x9C with a Server Reference, 3.1.1 clients are closed
once geo-dns answers with the target, at most rebalance.evictPerSecond per orchestrator, until the
counts are within rebalance.absThreshold / relThreshold (docs/rebalancing.md).

  -c, --config FILE   the brokel.yaml the manager runs with (for api.listen)`,
  },
  config: {
    summary: 'validate a brokel.yaml and print the effective config',
    text: `usage: brokel config check FILE

Validates FILE against the schema (every error names its path and value) and prints the effective
config, defaults filled in. Exit 0 when valid, 2 when not.`,
  },
  orchestrator: {
    summary: 'run one orchestrator replica (MQTT proxy + admin API)',
    text: async () => `usage: brokel ${(await import('./orchestrator.ts')).ORCHESTRATOR_USAGE}

One orchestrator: an MQTT server for clients (3.1.1 and 5.0) in front of the given brokers, and, with
--admin, the token-protected admin API the manager drives. \`brokel up\` starts these for you.`,
  },
  dns: {
    summary: 'run geo-dns standalone',
    text: async () => `usage: brokel ${(await import('./dns.ts')).DNS_USAGE}`,
  },
  cloud: {
    summary: 'serve this machine as an OpenNebula-like cloud front-end',
    text: async () => `usage: brokel ${(await import('./cloud.ts')).CLOUD_USAGE}`,
  },
  taxi: {
    summary: 'generate, publish or subscribe to a Rome taxi trace',
    text: async () => `usage: brokel ${(await import('./taxi.ts')).TAXI_USAGE}`,
  },
  scenario: {
    summary: "run one of the paper's scenarios and write its report",
    text: async () => `usage: brokel ${(await import('./scenario.ts')).SCENARIO_USAGE}`,
  },
  simulate: {
    summary: 'the scaling policies over a 30-day trace on a capacity model (no processes)',
    text: async () => `usage: brokel ${(await import('./simulate.ts')).SIMULATE_USAGE}

Replays a month of demand (the Rome trace's daily shape, or --file) through the reactive, proactive and
hpa policies' own decide(), with boot delays, and prints the SPEC elasticity metrics per policy and their
tournament (docs/elasticity-quality.md).`,
  },
  calibrate: {
    summary: 'measure the capacity curve (msg/s that n brokers carry under the SLO) for simulate',
    text: async () => `usage: brokel ${(await import('./calibrate.ts')).CALIBRATE_USAGE}`,
  },
  help: {
    summary: 'this text, or one command’s: brokel help COMMAND',
    text: 'usage: brokel help [COMMAND]   (or: brokel COMMAND --help)',
  },
};

export function mainUsage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return `usage: brokel <command> [options]     (brokel help COMMAND, or brokel COMMAND --help, for more)

commands:
${lines.join('\n')}

${COMMON}`;
}

/** The help text of one command, or undefined when there is no such command. */
export async function commandHelp(command: string): Promise<string | undefined> {
  const help = COMMANDS[command];
  if (!help) return undefined;
  const text = typeof help.text === 'string' ? help.text : await help.text();
  return `${text}\n\n${COMMON}`;
}

/** True when the arguments ask for help (`--help` or `-h` anywhere before a `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}
