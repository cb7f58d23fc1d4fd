import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseRabbitmqParams, renderEnabledPlugins } from './config.ts';

/**
 * The golden database: what a RabbitMQ replica starts from instead of an empty one.
 *
 * A RabbitMQ 3.10 node's first boot waits for cluster peers before its MQTT plugin starts: the
 * plugin's client-id tracker (`mqtt_node:start/0`) sleeps 300 ms 11 to 20 times (3.3–6 s) when no Raft
 * member of its own is on disk yet, and the MQTT listener opens after it. A node that booted once
 * finds its member and skips the wait. So a replica's data dir gets a copy of the database of a node
 * that booted once and stopped, with no user, no vhost and no message (a VM image with RabbitMQ
 * initialised, in a cloud's terms); its own definitions are imported at its boot as on an empty one.
 *
 * A copy works only where the node's name and database path are the ones it was made with: Ra keeps
 * absolute paths. Every local replica is therefore `rabbit@localhost` (each has its own epmd, so the
 * names never meet), and its database base is `/proc/self/cwd/mnesia`, the same string everywhere,
 * which each replica's node resolves into its own data dir (the provider starts it there).
 *
 * Made once per machine and RabbitMQ/Erlang version by `scripts/setup.sh`
 * (manager/providers/local/rabbitmq-golden-bake.ts); without it a replica boots from an empty database
 * as before. Measured on this 2-core machine, create to ready through the local provider (5 each,
 * alternated): median 6.2 s from the copy, 11.4 s from an empty database (README.md).
 */
export const NODENAME = 'rabbit@localhost';
export const MNESIA_BASE = '/proc/self/cwd/mnesia';

/** RabbitMQ's and Erlang/OTP's installed versions, e.g. `3.10.8-otp25.2.3`; undefined when absent. */
export function goldenKey(
  rabbitLib = '/usr/lib/rabbitmq/lib',
  erlangReleases = '/usr/lib/erlang/releases',
): string | undefined {
  try {
    const server = readdirSync(rabbitLib).find((d) => d.startsWith('rabbitmq_server-'));
    const otp = readdirSync(erlangReleases)
      .filter((d) => /^\d+$/.test(d))
      .map((d) => readFileSync(join(erlangReleases, d, 'OTP_VERSION'), 'utf8').trim())
      .sort()
      .pop();
    if (!server || !otp) return undefined;
    return `${server.slice('rabbitmq_server-'.length)}-otp${otp}`;
  } catch {
    return undefined;
  }
}

export function goldenRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BROKEL_CACHE_DIR) return join(env.BROKEL_CACHE_DIR, 'rabbitmq-golden');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'brokel', 'rabbitmq-golden');
}

/** The plugin set the golden database is made with: the template's default (MQTT, no management). */
export const GOLDEN_PLUGINS = renderEnabledPlugins(parseRabbitmqParams({}));

/** The golden database under `root` for versions `key`, when one has been made there. */
export function goldenDir(root: string, key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  const dir = join(root, key);
  return existsSync(join(dir, NODENAME)) ? dir : undefined;
}

/** This machine's golden database, when scripts/setup.sh has made one. */
export function machineGolden(): string | undefined {
  return goldenDir(goldenRoot(), goldenKey());
}

/**
 * Copies the golden database `golden` (machineGolden()) into a replica's data dir: only into one that
 * has none yet (a replica booting again keeps its own), and only for the plugin set it was made with.
 * True when copied.
 */
export async function seedFromGolden(
  dataDir: string,
  enabledPlugins: string,
  golden: string | undefined,
): Promise<boolean> {
  const target = join(dataDir, 'mnesia');
  if (golden === undefined || enabledPlugins !== GOLDEN_PLUGINS || existsSync(target)) return false;
  const aside = join(dataDir, `mnesia.${process.pid}.seeding`);
  await cp(golden, aside, { recursive: true });
  await rename(aside, target);
  return true;
}
