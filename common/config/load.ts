import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { describeIssues } from './issues.ts';
import { type BrokelConfig, configSchema } from './schema.ts';

/** Deep-freezes a validated value: config is read once at the edge, then never mutated. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Validates any value against a schema; a ConfigError names every bad path and value. */
export function validate<S extends z.ZodType>(
  schema: S,
  input: unknown,
  source?: string,
  prefix = '',
): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (!result.success) throw new ConfigError(describeIssues(result.error.issues, prefix), source);
  return deepFreeze(result.data);
}

/** Parses YAML text; syntax errors become a ConfigError with line and column. */
export function parseYaml(text: string, source: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        path: e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '(yaml)',
        message: e.message.split('\n')[0] ?? e.message,
      })),
      source,
    );
  }
  return doc.toJS() ?? {};
}

export function parseConfig(text: string, source = 'brokel.yaml'): BrokelConfig {
  return validate(configSchema, parseYaml(text, source), source);
}

/** Loads and validates a config file; no file means all defaults. */
export async function loadConfig(file?: string): Promise<BrokelConfig> {
  if (file === undefined) return validate(configSchema, {});
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(err);
    throw new ConfigError([{ path: '(file)', message: reason }], file);
  }
  return parseConfig(text, file);
}
