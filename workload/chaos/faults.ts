import type { ChaosDeployment } from './deployment.ts';
import { type FaultEvent, NET_DELAY_MS, NET_THROTTLE_BYTES_PER_SECOND } from './schedule.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already: the fault found nothing to hit
  }
}

/**
 * Carries out one fault of the schedule on the live deployment and resolves once it is over (a
 * stopped broker continued, a degraded link restored, a killed manager restarted). Returns what was
 * hit, for the timeline.
 */
export async function inject(d: ChaosDeployment, e: FaultEvent): Promise<string> {
  switch (e.kind) {
    case 'kill-broker':
    case 'kill-orchestrator': {
      const level = e.kind === 'kill-broker' ? 'broker' : 'orchestrator';
      const replicas = await d.ready(level);
      const victim = replicas[e.target % Math.max(1, replicas.length)];
      if (!victim) return `no ready ${level}`;
      signal(await d.pidOf(victim.id), 'SIGKILL');
      d.provider.noteKilled(victim.id, Date.now());
      return `SIGKILL ${victim.id}`;
    }
    case 'kill-manager': {
      await d.managerRestarted(); // the previous restart, if one is still booting
      await d.stopManager('SIGKILL');
      await sleep(e.durationMs);
      d.restartInBackground();
      return `SIGKILL manager, restarting after ${(e.durationMs / 1000).toFixed(1)} s`;
    }
    case 'stop-broker': {
      const replicas = await d.ready('broker');
      const victim = replicas[e.target % Math.max(1, replicas.length)];
      if (!victim) return 'no ready broker';
      const pid = await d.pidOf(victim.id);
      signal(pid, 'SIGSTOP');
      await sleep(e.durationMs);
      signal(pid, 'SIGCONT');
      return `SIGSTOP ${victim.id}, SIGCONT after ${(e.durationMs / 1000).toFixed(1)} s`;
    }
    default:
      return network(d, e);
  }
}

async function network(d: ChaosDeployment, e: FaultEvent): Promise<string> {
  const relays = await d.provider.openRelays();
  const ready = (await d.ready('broker')).filter((b) => relays.has(b.id));
  const victim = ready[e.target % Math.max(1, ready.length)];
  const relay = victim ? relays.get(victim.id) : undefined;
  if (!victim || !relay) return 'no relayed broker';
  const links = relay.connections;
  switch (e.kind) {
    case 'net-reset':
      relay.reset();
      return `reset ${links} links to ${victim.id}`;
    case 'net-delay':
      relay.setDelay(NET_DELAY_MS);
      await sleep(e.durationMs);
      relay.setDelay(0);
      return `+${NET_DELAY_MS} ms on ${links} links to ${victim.id}`;
    case 'net-throttle':
      relay.setBandwidth(NET_THROTTLE_BYTES_PER_SECOND);
      await sleep(e.durationMs);
      relay.setBandwidth(undefined);
      return `${NET_THROTTLE_BYTES_PER_SECOND / 1000} kB/s on ${links} links to ${victim.id}`;
    default:
      relay.setBlackhole(true);
      await sleep(e.durationMs);
      relay.setBlackhole(false);
      return `blackhole on ${links} links to ${victim.id}`;
  }
}
