import { LocalProvider } from '../../manager/providers/local/local-provider.ts';

/**
 * The local provider a benchmark starts its brokers with: deployment `<name>-<pid>`, replicas on
 * loopback aliases in `addressBlock` (one block per benchmark, so two can run at once), no boot delay.
 */
export function startBenchProvider(
  name: string,
  addressBlock: string,
  options: { bootTimeoutMs?: number; pollIntervalMs?: number } = {},
): Promise<LocalProvider> {
  return LocalProvider.start({
    deployment: `${name}-${process.pid}`,
    config: {
      addressing: 'aliases',
      addressBlock,
      bootDelaySeconds: 0,
      stopTimeoutMs: 10_000,
      bootTimeoutMs: options.bootTimeoutMs ?? 60_000,
    },
    pollIntervalMs: options.pollIntervalMs ?? 200,
  });
}
