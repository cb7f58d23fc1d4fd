import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';

/**
 * Saturating QoS 0 load on a broker or orchestrator from other processes (Debian's mosquitto
 * clients): `publishers` × `yes | mosquitto_pub -l` and one `mosquitto_sub` taking it all. Other
 * processes, so a test may block its own event loop while the load goes on. Each pipeline is its own
 * process group, killed by its PID at teardown.
 */
export function cliLoad(t: TestContext, host: string, port: number, publishers = 2): void {
  const target = `-h ${host} -p ${port}`;
  const commands = [
    `exec mosquitto_sub ${target} -t 'load/#' >/dev/null`,
    ...Array.from(
      { length: publishers },
      (_, i) => `yes 0123456789abcdef | mosquitto_pub ${target} -t load/${i} -l -q 0`,
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
