import type { BrokelConfig } from '../common/config/schema.ts';
import { ConfigError, type FieldProblem } from '../common/errors.ts';
import { lookupTemplate, unknownTemplate } from '../templates/registry.ts';

/**
 * The config schema (in common/) cannot know the template registry; the CLI edge checks here that
 * every `levels.brokers.template` names a broker template.
 */
export function checkTemplateNames(config: BrokelConfig, source?: string): void {
  const listed = config.levels.brokers.template;
  const problems: FieldProblem[] = [];
  [listed].flat().forEach((name, i) => {
    const path = Array.isArray(listed) ? `levels.brokers.template[${i}]` : 'levels.brokers.template';
    const template = lookupTemplate(name);
    if (!template) problems.push(unknownTemplate(name, path));
    else if (template.level !== 'broker')
      problems.push({
        path,
        message: `${name} is a template of the ${template.level} level, not the broker level`,
      });
  });
  if (problems.length > 0) throw new ConfigError(problems, source);
}
