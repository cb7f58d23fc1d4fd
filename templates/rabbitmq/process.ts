import { join } from 'node:path';
import { MNESIA_BASE, NODENAME } from './golden.ts';

/** The Debian package's own start script (the one on PATH switches to the rabbitmq user and /var/lib). */
export const RABBITMQ_SERVER_SCRIPT = '/usr/lib/rabbitmq/bin/rabbitmq-server';

/**
 * The replica's process-group leader (`/bin/sh -c WRAPPER_SCRIPT brokel-rabbitmq RABBITMQ_SERVER_SCRIPT`).
 *
 * - Erlang normally runs `epmd -daemon`, which calls setsid and so escapes the group. Instead this
 *   shell runs its own foreground epmd on the replica's port (same group), waits until it answers,
 *   and every erl of the replica gets `-start_epmd false` (ERL_ZFLAGS). That epmd starts with SIGTERM
 *   ignored so the group's SIGTERM does not take it away under a node that is still stopping; the
 *   shell SIGKILLs it once the broker has exited (a group SIGKILL takes it too).
 * - rabbitmq-server itself traps SIGTERM, forwards it to beam.smp (graceful stop: listeners close,
 *   message stores flush, ~1 s) and exits 0. beam.smp also gets the group's SIGTERM directly. The
 *   script only does this when it is not "under systemd": NOTIFY_SOCKET (and the two other switches
 *   of that test) are cleared so it never `exec`s erl without the trap.
 * - A SIGTERM sent to this leader alone is forwarded to rabbitmq-server; the shell then waits until
 *   the broker has exited, kills its epmd and exits with the broker's status (0 after SIGTERM).
 * - Not in the group, by Erlang's design: erl_child_setup and the port programs it starts
 *   (inet_gethost, the disk monitor's `sh -s`) each call setsid. They exit on their own, on EOF, as
 *   soon as beam.smp is gone; none was left running once the leader had exited (also after SIGKILL).
 */
export const WRAPPER_SCRIPT = `unset NOTIFY_SOCKET RABBITMQ_ALLOW_INPUT detached
rabbit_pid=
stopping=
on_signal() {
  stopping=1
  if [ -n "$rabbit_pid" ]; then kill -TERM "$rabbit_pid" 2>/dev/null; fi
}
trap on_signal TERM INT HUP
(trap '' TERM INT HUP; exec epmd -port "$ERL_EPMD_PORT" -address 127.0.0.1) &
epmd_pid=$!
stop_epmd() {
  kill -KILL "$epmd_pid" 2>/dev/null
  wait "$epmd_pid" 2>/dev/null
}
tries=0
while :; do
  sleep 0.05
  if [ -n "$stopping" ]; then stop_epmd; exit 143; fi
  if ! kill -0 "$epmd_pid" 2>/dev/null; then
    echo "brokel: epmd exited: is 127.0.0.1:$ERL_EPMD_PORT taken?" >&2
    exit 70
  fi
  if epmd -port "$ERL_EPMD_PORT" -names >/dev/null 2>&1; then break; fi
  tries=$((tries + 1))
  if [ "$tries" -ge 200 ]; then
    echo "brokel: epmd did not answer on 127.0.0.1:$ERL_EPMD_PORT" >&2
    stop_epmd
    exit 70
  fi
done
if [ -n "$stopping" ]; then stop_epmd; exit 143; fi
"$1" &
rabbit_pid=$!
if [ -n "$stopping" ]; then kill -TERM "$rabbit_pid" 2>/dev/null; fi
wait "$rabbit_pid"
status=$?
while kill -0 "$rabbit_pid" 2>/dev/null; do
  wait "$rabbit_pid"
  status=$?
done
stop_epmd
exit "$status"
`;

/** The replica's command: WRAPPER_SCRIPT leading its group around the package's start script. */
export function rabbitmqCommand(): { command: string; args: string[] } {
  return { command: '/bin/sh', args: ['-c', WRAPPER_SCRIPT, 'brokel-rabbitmq', RABBITMQ_SERVER_SCRIPT] };
}

export interface RabbitmqEnvInput {
  dataDir: string;
  distPort: number;
  epmdPort: number;
}

/**
 * The replica's own environment (pure): everything it writes stays in its data dir. The process runs
 * in its data dir (the local provider starts it there): the database base, `/proc/self/cwd/mnesia`,
 * is the data dir's `mnesia/` as the node sees it, and the same string for every replica, as the
 * golden database needs (golden.ts); so is the node name.
 */
export function rabbitmqEnv(input: RabbitmqEnvInput): Record<string, string> {
  const inData = (name: string) => join(input.dataDir, name);
  return {
    // Erlang reads (or creates) $HOME/.erlang.cookie: one cookie per replica.
    HOME: input.dataDir,
    RABBITMQ_NODENAME: NODENAME,
    RABBITMQ_CONFIG_FILE: inData('rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: inData('enabled_plugins'),
    RABBITMQ_MNESIA_BASE: MNESIA_BASE,
    RABBITMQ_LOG_BASE: inData('log'),
    RABBITMQ_PID_FILE: inData('rabbitmq.pid'),
    // Never written: they keep /etc/rabbitmq/rabbitmq-env.conf and advanced.config out of the replica.
    RABBITMQ_CONF_ENV_FILE: inData('rabbitmq-env.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: inData('advanced.config'),
    RABBITMQ_DIST_PORT: String(input.distPort),
    // Without inet_dist_use_interface the distribution port binds 0.0.0.0.
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1} -start_epmd false',
    // Also for every other erl the node spawns (rabbit_epmd_monitor's epmd starter).
    ERL_ZFLAGS: '-start_epmd false',
    ERL_EPMD_PORT: String(input.epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    ERL_CRASH_DUMP: inData('erl_crash.dump'),
  };
}
