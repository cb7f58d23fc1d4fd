import { readFile } from 'node:fs/promises';
import { ConfigError, type FieldProblem, TimeoutError } from '../common/errors.ts';
import { createRootLogger } from '../common/logger.ts';
import { formatHostPort, type HostPort, parseHostPort } from '../common/net/host-port.ts';
import { requireTokenOffLoopback } from '../common/net/loopback.ts';
import { onShutdown } from '../common/shutdown.ts';
import type { AdminServer } from '../orchestrator/admin/admin-server.ts';
import { DEFAULT_LIMITS } from '../orchestrator/limits.ts';
import { Orchestrator } from '../orchestrator/orchestrator.ts';
import { type DesiredBroker, parseBrokerUrl } from '../orchestrator/pool/broker-pool.ts';
import { ROUTING_STRATEGIES, type RoutingStrategyName } from '../orchestrator/routing/strategies.ts';
import { oneOf, parseCommandArgs } from './args.ts';

export const ORCHESTRATOR_USAGE =
  'orchestrator --listen HOST:PORT --brokers URL[,URL...] [--admin HOST:PORT] [--admin-token T]\n' +
  '               [--routing round-robin|least-outstanding|client-affinity|topic-affinity] [--config FILE]\n' +
  '               [--qos2-on-broker-loss resend|drop] [--connects-per-second N] [--max-queued-connects N]\n' +
  '               [--upstream-link-grace-seconds N] [--max-pending-connections N] [--ack-hold-ms N]\n' +
  '               [--tls-cert FILE --tls-key FILE [--tls-listen HOST:PORT]] [--broker-ca FILE] [--log-level L]';

/** The config schema's default `routing` (a test keeps the two equal). */
export const DEFAULT_ROUTING: RoutingStrategyName = 'round-robin';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
/** Time the orchestrator gets to say goodbye to its clients and brokers on SIGINT/SIGTERM. */
const STOP_TIMEOUT_MS = 10_000;

export interface OrchestratorCliSettings {
  listen: HostPort;
  brokers: DesiredBroker[];
  /** From --routing; when absent the config's `routing` (its default without --config). */
  routing: RoutingStrategyName | undefined;
  configFile: string | undefined;
  /** From --qos2-on-broker-loss; when absent the config's `limits.qos2OnBrokerLoss`. */
  qos2OnBrokerLoss: 'resend' | 'drop' | undefined;
  /** From --connects-per-second / --max-queued-connects; when absent the config's `limits`. */
  connectsPerSecond: number | undefined;
  maxQueuedConnects: number | undefined;
  /** From --max-pending-connections; when absent the config's `limits.maxPendingConnections`. */
  maxPendingConnections: number | undefined;
  /** From --upstream-link-grace-seconds; when absent the config's `limits.upstreamLinkGraceSeconds`. */
  upstreamLinkGraceSeconds: number | undefined;
  /** From --ack-hold-ms; when absent the config's `limits.ackHoldMs`. */
  ackHoldMs: number | undefined;
  admin: HostPort | undefined;
  adminToken: string | undefined;
  tls: { certFile: string; keyFile: string; listen: HostPort } | undefined;
  /** --broker-ca: PEM of the CA that signed the `mqtts://` brokers' certificates. */
  brokerCaFile: string | undefined;
  /**
   * BROKEL_REGISTRY_USERNAME / BROKEL_REGISTRY_PASSWORD (environment only, never a flag a `ps` shows):
   * the broker user of the registry's own connections (reads, presence, replays). Without it they
   * connect anonymously, which brokers with `brokers.users` refuse.
   */
  registryCredentials: { username: string; password: string } | undefined;
  logLevel: string;
}

const problem = (path: string, message: string): ConfigError => new ConfigError([{ path, message }]);

/** A whole number ≥ 0 given as a flag, or undefined. */
function count(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw problem(flag, `${JSON.stringify(value)} is not a whole number`);
  return n;
}

/**
 * A whole number from 0 to `max` in `unit` given as a flag (limits.upstreamLinkGraceSeconds: 3600
 * seconds, limits.ackHoldMs: 1000 ms, the config schema's bounds), or undefined when absent.
 */
function upTo(value: string | undefined, flag: string, max: number, unit: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > max)
    throw problem(flag, `${JSON.stringify(value)} is not 0 to ${max} ${unit}`);
  return n;
}

/** `--brokers a,b`: every URL parsed (mqtt://host:port), none twice; all start `active`. */
export function parseBrokerList(value: string): DesiredBroker[] {
  const problems: FieldProblem[] = [];
  const seen = new Set<string>();
  const brokers: DesiredBroker[] = [];
  for (const raw of value.split(',').map((s) => s.trim())) {
    try {
      if (raw === '') throw problem('--brokers', `empty entry in ${JSON.stringify(value)}`);
      const { id, url } = parseBrokerUrl(raw, '--brokers');
      if (seen.has(id)) throw problem('--brokers', `${JSON.stringify(raw)} is named twice`);
      seen.add(id);
      brokers.push({ url, state: 'active' });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return brokers;
}

/**
 * The command line of `brokel orchestrator` (pure: no files read). `env` supplies BROKEL_ADMIN_TOKEN
 * and BROKEL_LOG_LEVEL; flags win over it.
 */
export function parseOrchestratorArgs(
  argv: string[],
  env: Record<string, string | undefined>,
): OrchestratorCliSettings {
  const { values, positionals } = parseCommandArgs('orchestrator', argv, {
    listen: { type: 'string' },
    brokers: { type: 'string' },
    admin: { type: 'string' },
    'admin-token': { type: 'string' },
    routing: { type: 'string' },
    config: { type: 'string', short: 'c' },
    'qos2-on-broker-loss': { type: 'string' },
    'connects-per-second': { type: 'string' },
    'max-queued-connects': { type: 'string' },
    'max-pending-connections': { type: 'string' },
    'upstream-link-grace-seconds': { type: 'string' },
    'ack-hold-ms': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'tls-listen': { type: 'string' },
    'broker-ca': { type: 'string' },
    'log-level': { type: 'string' },
  });
  if (positionals.length > 0)
    throw problem('orchestrator', `unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.listen === undefined) throw problem('--listen', 'required (HOST:PORT)');
  if (values.brokers === undefined) throw problem('--brokers', 'required (mqtt://host:port[,...])');
  const listen = parseHostPort(values.listen, '--listen');
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw certFile === undefined
      ? problem('--tls-cert', 'required with --tls-key')
      : problem('--tls-key', 'required with --tls-cert');
  }
  if (values['tls-listen'] !== undefined && certFile === undefined)
    throw problem('--tls-listen', 'needs --tls-cert and --tls-key');
  const tlsListen =
    values['tls-listen'] === undefined
      ? { host: listen.host, port: 8883 }
      : parseHostPort(values['tls-listen'], '--tls-listen');
  if (values['admin-token'] !== undefined && values.admin === undefined)
    throw problem('--admin-token', 'given without --admin');
  const adminToken = values['admin-token'] ?? env.BROKEL_ADMIN_TOKEN;
  if (values.admin !== undefined && adminToken === '')
    throw problem(values['admin-token'] === undefined ? 'BROKEL_ADMIN_TOKEN' : '--admin-token', 'is empty');
  const admin = values.admin === undefined ? undefined : parseHostPort(values.admin, '--admin');
  if (admin) requireTokenOffLoopback(admin.host, adminToken, '--admin-token', '--admin');
  return {
    listen,
    brokers: parseBrokerList(values.brokers),
    routing:
      values.routing === undefined ? undefined : oneOf(values.routing, ROUTING_STRATEGIES, '--routing'),
    configFile: values.config,
    qos2OnBrokerLoss:
      values['qos2-on-broker-loss'] === undefined
        ? undefined
        : oneOf(values['qos2-on-broker-loss'], ['resend', 'drop'] as const, '--qos2-on-broker-loss'),
    connectsPerSecond: count(values['connects-per-second'], '--connects-per-second'),
    maxQueuedConnects: count(values['max-queued-connects'], '--max-queued-connects'),
    maxPendingConnections: count(values['max-pending-connections'], '--max-pending-connections'),
    upstreamLinkGraceSeconds: upTo(
      values['upstream-link-grace-seconds'],
      '--upstream-link-grace-seconds',
      3600,
      'seconds',
    ),
    ackHoldMs: upTo(values['ack-hold-ms'], '--ack-hold-ms', 1000, 'ms'),
    admin,
    adminToken: values.admin === undefined ? undefined : adminToken,
    tls:
      certFile !== undefined && keyFile !== undefined ? { certFile, keyFile, listen: tlsListen } : undefined,
    brokerCaFile: values['broker-ca'],
    registryCredentials: registryCredentialsOf(env),
    logLevel: oneOf(values['log-level'] ?? env.BROKEL_LOG_LEVEL ?? 'info', LOG_LEVELS, '--log-level'),
  };
}

function registryCredentialsOf(env: NodeJS.ProcessEnv): { username: string; password: string } | undefined {
  const username = env.BROKEL_REGISTRY_USERNAME;
  const password = env.BROKEL_REGISTRY_PASSWORD;
  if (username === undefined && password === undefined) return undefined;
  if (!username)
    throw problem('BROKEL_REGISTRY_USERNAME', 'is empty or missing while BROKEL_REGISTRY_PASSWORD is set');
  return { username, password: password ?? '' };
}

async function readFlagFile(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw problem(flag, `${JSON.stringify(file)}: ${code === 'ENOENT' ? 'no such file' : String(err)}`);
  }
}

/** Runs `stop`, but gives up after STOP_TIMEOUT_MS (a client that never closes its socket). */
async function bounded(stop: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TimeoutError('stopping the orchestrator', STOP_TIMEOUT_MS)),
      STOP_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([stop(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `brokel orchestrator`: one orchestrator replica. Listens for MQTT clients (TCP, and TLS when a
 * certificate is given), serves the admin API when --admin is given, prints one ready line, and
 * stops cleanly on SIGINT/SIGTERM. Resolves once ready; the listeners keep the process alive.
 */
export async function runOrchestrator(
  argv: string[],
  env: Record<string, string | undefined>,
): Promise<void> {
  const settings = parseOrchestratorArgs(argv, env);
  // The config (and zod, ~15 MB of a replica's RSS) only when a file is named: a replica started by
  // the manager gets both settings as flags, and without a file the config is its defaults anyway.
  const config = settings.configFile
    ? await (await import('../common/config/load.ts')).loadConfig(settings.configFile)
    : {
        routing: DEFAULT_ROUTING,
        limits: {
          qos2OnBrokerLoss: DEFAULT_LIMITS.qos2OnBrokerLoss,
          connectsPerSecond: DEFAULT_LIMITS.connectsPerSecond,
          maxQueuedConnects: DEFAULT_LIMITS.maxQueuedConnects,
          maxPendingConnections: DEFAULT_LIMITS.maxPendingConnections,
          upstreamLinkGraceSeconds: DEFAULT_LIMITS.upstreamLinkGraceSeconds,
          ackHoldMs: DEFAULT_LIMITS.ackHoldMs,
        },
      };
  const tls = settings.tls && {
    cert: await readFlagFile(settings.tls.certFile, '--tls-cert'),
    key: await readFlagFile(settings.tls.keyFile, '--tls-key'),
  };
  const brokerCa = settings.brokerCaFile && (await readFlagFile(settings.brokerCaFile, '--broker-ca'));
  const format = env.BROKEL_LOG_FORMAT === 'pretty' ? 'pretty' : 'json';
  const log = createRootLogger({ level: settings.logLevel, format });
  const orchestrator = new Orchestrator({
    routing: settings.routing ?? config.routing,
    brokers: settings.brokers,
    limits: {
      qos2OnBrokerLoss: settings.qos2OnBrokerLoss ?? config.limits.qos2OnBrokerLoss,
      connectsPerSecond: settings.connectsPerSecond ?? config.limits.connectsPerSecond,
      connectBurst: settings.connectsPerSecond ?? config.limits.connectsPerSecond,
      maxQueuedConnects: settings.maxQueuedConnects ?? config.limits.maxQueuedConnects,
      maxPendingConnections: settings.maxPendingConnections ?? config.limits.maxPendingConnections,
      upstreamLinkGraceSeconds: settings.upstreamLinkGraceSeconds ?? config.limits.upstreamLinkGraceSeconds,
      ackHoldMs: settings.ackHoldMs ?? config.limits.ackHoldMs,
    },
    log: log.child({ component: 'orchestrator' }),
    ...(brokerCa ? { brokerCa } : {}),
    ...(settings.registryCredentials ? { registryCredentials: settings.registryCredentials } : {}),
  });
  let admin: AdminServer | undefined;
  const stop = async (): Promise<void> => {
    await admin?.close();
    // close() ends every session (MQTT 5 clients get DISCONNECT 0x8B) and then the listeners.
    await orchestrator.close();
  };
  try {
    const mqttPort = await orchestrator.listen(settings.listen.host, settings.listen.port);
    const parts = [`MQTT on ${formatHostPort({ ...settings.listen, port: mqttPort })}`];
    if (settings.tls && tls) {
      let tlsPort: number;
      try {
        tlsPort = await orchestrator.listen(settings.tls.listen.host, settings.tls.listen.port, tls);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).syscall === 'listen') throw err;
        throw problem('--tls-cert', `cannot be used with --tls-key: ${(err as Error).message}`);
      }
      parts.push(`MQTT over TLS on ${formatHostPort({ ...settings.tls.listen, port: tlsPort })}`);
    }
    if (settings.admin) {
      const { startAdminServer } = await import('../orchestrator/admin/admin-server.ts');
      admin = await startAdminServer({
        orchestrator,
        host: settings.admin.host,
        port: settings.admin.port,
        token: settings.adminToken,
        log: log.child({ component: 'admin' }),
      });
      parts.push(`admin on ${formatHostPort({ ...settings.admin, port: admin.port })}`);
    }
    console.log(`brokel orchestrator: ${parts.join(', ')}`);
  } catch (err) {
    await bounded(stop).catch((stopErr: unknown) => log.error({ err: stopErr }, 'stop after a failed start'));
    throw err;
  }
  // A stop that times out rejects: onShutdown logs it and exits 1.
  onShutdown(() => bounded(stop), log);
}
