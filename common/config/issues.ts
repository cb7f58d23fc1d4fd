import type { z } from 'zod';
import type { FieldProblem } from '../errors.ts';

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'a list' : 'an object';
  return String(value);
}

function pathOf(issue: z.core.$ZodIssue, prefix: string): string {
  const parts = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)));
  const joined = parts.reduce(
    (acc, part) => (part.startsWith('[') || acc === '' ? acc + part : `${acc}.${part}`),
    '',
  );
  if (prefix === '') return joined === '' ? '(root)' : joined;
  return joined === '' ? prefix : `${prefix}.${joined}`;
}

/**
 * Turns zod issues into path-qualified, human sentences: `levels.brokers.upper: 1.4 is above 1`.
 * Parse with `{ reportInput: true }` so the bad value can be named.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): FieldProblem[] {
  return issues.map((issue) => {
    const path = pathOf(issue, prefix);
    const input = 'input' in issue ? issue.input : undefined;
    switch (issue.code) {
      case 'too_big':
        return {
          path,
          message: `${show(input)} is above ${issue.inclusive ? '' : 'or equal to '}${issue.maximum}`,
        };
      case 'too_small':
        return {
          path,
          message: `${show(input)} is below ${issue.inclusive ? '' : 'or equal to '}${issue.minimum}`,
        };
      case 'invalid_value':
        return { path, message: `${show(input)} is not one of ${issue.values.map(show).join(', ')}` };
      case 'invalid_type':
        return { path, message: `expected ${issue.expected}, got ${show(input)}` };
      case 'unrecognized_keys':
        return { path, message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` };
      case 'invalid_format':
        return { path, message: `${show(input)} ${issue.message}` };
      default:
        return { path, message: issue.message };
    }
  });
}
