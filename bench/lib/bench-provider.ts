import { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import { atBenchExit } from './exit-cleanup.ts';

/**
 * The local provider a benchmark starts its brokers with: deployment `<name>-<pid>`, replicas on
 * loopback aliases in `addressBlock` (one block per benchmark, so two can run at once), no boot delay.
 */
export async function startBenchProvider(
  name: string,
  addressBlock: string,
  options: { bootTimeoutMs?: number; pollIntervalMs?: number } = {},
): Promise<LocalProvider> {
  const provider = await LocalProvider.start({
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
  // Its Mosquittos, their cgroups and state go with the bench however it ends (exit-cleanup.ts).
  atBenchExit(() => provider.stop());
  return provider;
}
