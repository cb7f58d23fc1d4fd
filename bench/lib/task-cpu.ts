// A process's CPU time at the scheduler's resolution: the sum of each of its threads'
// `se.sum_exec_runtime` (ms with ns digits) in /proc/PID/task/TID/sched, where /proc/PID/stat's utime
// and stime count whole clock ticks. At 2,000 msg/s a benchmark window of a few seconds gives Mosquitto
// only 10–20 ticks, so a tick either way moved its µs per message by 5–10 % (docs/data-plane.md,
// "Session 29"). The file exists with the kernel's scheduler debug information (CONFIG_SCHED_DEBUG).
import { readdirSync, readFileSync } from 'node:fs';

const RUNTIME = /se\.sum_exec_runtime\s*:\s*([0-9]+(?:\.[0-9]+)?)/;

/**
 * Seconds of CPU the threads of `pid` alive now have used, or undefined: the process is gone, or the
 * kernel does not show the figure. A thread that ended takes its time with it, so a window over which
 * a process ends threads reads short; the processes measured (Mosquitto, HAProxy, node) keep theirs.
 */
export function schedCpuSeconds(pid: number): number | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let ms = 0;
  let read = 0;
  for (const tid of tids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/sched`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const m = RUNTIME.exec(text);
    if (!m) return undefined;
    ms += Number(m[1]);
    read += 1;
  }
  return read > 0 ? ms / 1000 : undefined;
}
