// Boot time to ready (first CONNACK) and idle memory per broker template, through the local provider.
// `npm run bench:boot [-- --runs 5 --templates mosquitto,rabbitmq]`. Prints medians.
import { readFileSync } from 'node:fs';
import { probeMqtt } from '../common/mqtt-probe.ts';
import { groupMembers } from '../manager/providers/local/proc-stat.ts';
import { benchArgs } from './lib/bench-args.ts';
import { startBenchProvider } from './lib/bench-provider.ts';
import { median } from './lib/stats.ts';

const values = benchArgs(
  'bench:boot',
  'Boot time to ready and idle memory per broker template, through the local provider.',
  {
    runs: { type: 'string', default: '5' },
    templates: { type: 'string', default: 'mosquitto,rabbitmq' },
  },
);
const runs = Number(values.runs);

function groupRssMb(pgid: number): number {
  let kb = 0;
  for (const p of groupMembers(pgid)) {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
    kb += Number(m?.[1] ?? 0);
  }
  return kb / 1024;
}

const provider = await startBenchProvider('bench-boot', '127.43', {
  bootTimeoutMs: 120_000,
  pollIntervalMs: 1000,
});
try {
  for (const template of (values.templates ?? '').split(',')) {
    const boots: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      const r = await provider.create('broker', template);
      for (;;) {
        try {
          await probeMqtt({ host: r.host, port: r.port, timeoutMs: 500 });
          break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        if (performance.now() - started > 120_000) throw new Error(`${template} not ready in 120 s`);
      }
      boots.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 3000)); // settle, then read idle memory
      rss.push(groupRssMb(provider.details(r.id)?.pid ?? -1));
      await provider.destroy(r.id);
    }
    console.log(
      `${template.padEnd(10)} boot to first CONNACK: median ${median(boots).toFixed(0)} ms ` +
        `(runs: ${boots.map((b) => b.toFixed(0)).join(', ')}); idle RSS (whole process group): median ${median(rss).toFixed(1)} MB`,
    );
  }
} finally {
  await provider.stop();
}
