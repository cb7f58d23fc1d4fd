import type { TestContext } from 'node:test';
import { silentLogger } from '../../common/logger.ts';
import { type ManagerApi, startManagerApi } from '../../manager/api-server.ts';
import type { Manager } from '../../manager/manager.ts';
import { managerMetrics } from '../../manager/metrics.ts';
import { defer } from './remote-provider.ts';

type ApiOptions = Parameters<typeof startManagerApi>[0];

/**
 * The manager API over `manager` on 127.0.0.1, an ephemeral port, silent, with fresh metrics unless
 * given; closed at teardown before the manager stops (defer: reverse order of set-up). `base` is its URL.
 */
export async function startTestManagerApi(
  t: TestContext,
  manager: Manager,
  options: Partial<Omit<ApiOptions, 'manager'>> = {},
): Promise<{ api: ManagerApi; base: string }> {
  const api = await startManagerApi({
    manager,
    metrics: managerMetrics(),
    host: '127.0.0.1',
    port: 0,
    log: silentLogger(),
    extra: () => ({}),
    ...options,
  });
  defer(t, () => api.close());
  return { api, base: `http://127.0.0.1:${api.port}` };
}
