import type { BrokelConfig } from '../common/config/schema.ts';
import { ConfigError } from '../common/errors.ts';
import { templateNames } from '../templates/registry.ts';

/** The config schema (in common/) cannot know the template registry; the CLI edge checks names here. */
export function checkTemplateNames(config: BrokelConfig, source?: string): void {
  const known = templateNames();
  const names = [config.levels.brokers.template].flat();
  const problems = names
    .map((name, i) => ({
      name,
      path: Array.isArray(config.levels.brokers.template)
        ? `levels.brokers.template[${i}]`
        : 'levels.brokers.template',
    }))
    .filter(({ name }) => !known.includes(name))
    .map(({ name, path }) => ({
      path,
      message: `unknown template ${JSON.stringify(name)} (known: ${known.join(', ')})`,
    }));
  if (problems.length > 0) throw new ConfigError(problems, source);
}
