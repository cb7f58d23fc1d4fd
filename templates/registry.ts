import { ConfigError, type FieldProblem } from '../common/errors.ts';
import { mosquittoTemplate } from './mosquitto/template.ts';
import { orchestratorTemplate } from './orchestrator/template.ts';
import { rabbitmqTemplate } from './rabbitmq/template.ts';
import type { ReplicaTemplate } from './template.ts';

/** Every template by name. Adding a template: its own folder plus one line here. */
const TEMPLATES: readonly ReplicaTemplate[] = [mosquittoTemplate, rabbitmqTemplate, orchestratorTemplate];

export function templateNames(): string[] {
  return TEMPLATES.map((t) => t.name);
}

export function lookupTemplate(name: string): ReplicaTemplate | undefined {
  return TEMPLATES.find((t) => t.name === name);
}

/**
 * Whether a broker of this template lists its retained messages to a wildcard subscription
 * (ReplicaTemplate.retainedWildcardRead); a template this build does not know is taken to list them.
 */
export function listsRetainedToWildcard(templateName: string): boolean {
  return lookupTemplate(templateName)?.retainedWildcardRead !== false;
}

/** The one wording of an unknown template name, at the given config or option path. */
export function unknownTemplate(name: string, path: string): FieldProblem {
  return { path, message: `unknown template ${JSON.stringify(name)} (known: ${templateNames().join(', ')})` };
}

export function findTemplate(name: string, optionPath = 'template'): ReplicaTemplate {
  const found = lookupTemplate(name);
  if (!found) throw new ConfigError([unknownTemplate(name, optionPath)]);
  return found;
}
