import { orchestratorTemplate } from '../../templates/orchestrator/template.ts';
import type { ProcessSpec } from '../../templates/template.ts';

/** The orchestrator template rendered for replica d-o1 on 127.42.0.4 with `params` (pure render, no process). */
export function renderOrchestrator(params: Record<string, unknown>): Promise<ProcessSpec> {
  return orchestratorTemplate.render({
    replicaId: 'd-o1',
    host: '127.42.0.4',
    port: 1883,
    dataDir: '/d',
    addressing: 'aliases',
    users: [],
    params: { adminToken: 'x'.repeat(16), ...params },
    freePort: async () => 1,
  });
}
