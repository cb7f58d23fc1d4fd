import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';

/**
 * Saturating QoS 0 load on a broker or orchestrator from other processes (Debian's mosquitto
 * clients): `publishers` × `yes | mosquitto_pub -l` and one `mosquitto_sub` taking it all. Other
 * processes, so a test may block its own event loop while the load goes on. Each pipeline is its own
 * process group, killed by its PID at teardown. Bounded in count and time all the same (a test that
 * dies before its teardown, a broker that stops reading while mosquitto_pub queues what it reads):
 * LINES messages per publisher at most, and no pipeline outlives SECONDS (`timeout --foreground`: a
 * plain `timeout` puts itself in a process group of its own, which the teardown's kill would miss).
 */
const LINES = 5_000_000;
const SECONDS = 300;
export function cliLoad(t: TestContext, host: string, port: number, publishers = 2): void {
  const target = `-h ${host} -p ${port}`;
  const commands = [
    `exec timeout --foreground ${SECONDS} mosquitto_sub ${target} -t 'load/#' >/dev/null`,
    ...Array.from(
      { length: publishers },
      (_, i) =>
        `yes 0123456789abcdef | head -n ${LINES} | timeout --foreground ${SECONDS} mosquitto_pub ${target} -t load/${i} -l -q 0`,
    ),
  ];
  for (const command of commands) {
    const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: 'ignore' });
    t.after(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
  }
}
