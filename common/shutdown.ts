import { onOutputClosed } from './closed-output.ts';
import type { Logger } from './logger.ts';

/**
 * Runs `stop` once on SIGINT, SIGTERM or a closed stdout (SIGPIPE's part: `brokel up | head`, see
 * closed-output.ts), then exits. A second signal while stopping exits at once (the operator insists).
 * Only main.ts-level code installs this.
 */
export function onShutdown(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals | 'closed output'): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal while stopping: exiting now');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  onOutputClosed(() => handler('closed output'));
}
