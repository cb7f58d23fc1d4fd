import { ConfigError } from '../common/errors.ts';
import { mosquittoTemplate } from './mosquitto/template.ts';
import { orchestratorTemplate } from './orchestrator/template.ts';
import { rabbitmqTemplate } from './rabbitmq/template.ts';
import type { ReplicaTemplate } from './template.ts';

/** Every template by name. Adding a template: its own folder plus one line here. */
const TEMPLATES: readonly ReplicaTemplate[] = [mosquittoTemplate, rabbitmqTemplate, orchestratorTemplate];

export function templateNames(): string[] {
  return TEMPLATES.map((t) => t.name);
}

export function findTemplate(name: string, optionPath = 'template'): ReplicaTemplate {
  const found = TEMPLATES.find((t) => t.name === name);
  if (!found) {
    throw new ConfigError([
      {
        path: optionPath,
        message: `unknown template ${JSON.stringify(name)} (known: ${templateNames().join(', ')})`,
      },
    ]);
  }
  return found;
}
