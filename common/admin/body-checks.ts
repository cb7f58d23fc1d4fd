import type { FieldProblem } from '../errors.ts';

/**
 * Hand-written checks for the admin API's request bodies (pure), with the messages the config's zod
 * validation gives (common/config/issues.ts): an orchestrator replica then never loads zod, ~11 MB of
 * its idle RSS (docs/data-plane.md). A differential test keeps the two in agreement.
 */

export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'a list' : 'an object';
  return String(value);
}

export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path === '(root)' ? '' : path}[${key}]`;
  return path === '(root)' ? key : `${path}.${key}`;
}

export class Checks {
  readonly problems: FieldProblem[] = [];

  private fail(path: string, message: string): undefined {
    this.problems.push({ path, message });
    return undefined;
  }

  /** A plain object (its fields are checked next, then `unknownKeys`); undefined and a problem otherwise. */
  object(path: string, value: unknown): Record<string, unknown> | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return this.fail(path, `expected object, got ${show(value)}`);
    return value as Record<string, unknown>;
  }

  /** Keys beyond `allowed` (a strict object), reported after its fields' problems. */
  unknownKeys(path: string, record: Record<string, unknown>, allowed: readonly string[]): void {
    const unknown = Object.keys(record).filter((k) => !allowed.includes(k));
    if (unknown.length > 0)
      this.fail(path, `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  }

  array(path: string, value: unknown, max: number): unknown[] | undefined {
    if (!Array.isArray(value)) return this.fail(path, `expected array, got ${show(value)}`);
    if (value.length > max) return this.fail(path, `${show(value)} is above ${max}`);
    return value;
  }

  string(path: string, value: unknown, min: number, max: number): string | undefined {
    if (typeof value !== 'string') return this.fail(path, `expected string, got ${show(value)}`);
    if (value.length < min) return this.fail(path, `${show(value)} is below ${min}`);
    if (value.length > max) return this.fail(path, `${show(value)} is above ${max}`);
    return value;
  }

  /** A string matching `pattern`, or the problem `${value} ${message}`. */
  format(path: string, value: unknown, max: number, pattern: RegExp, message: string): string | undefined {
    const text = this.string(path, value, 0, max);
    if (text === undefined) return undefined;
    if (!pattern.test(text)) return this.fail(path, `${show(text)} ${message}`);
    return text;
  }

  oneOf<T extends string>(path: string, value: unknown, values: readonly T[]): T | undefined {
    if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
    return this.fail(path, `${show(value)} is not one of ${values.map(show).join(', ')}`);
  }

  boolean(path: string, value: unknown): boolean | undefined {
    if (typeof value !== 'boolean') return this.fail(path, `expected boolean, got ${show(value)}`);
    return value;
  }

  /** A finite number within [min, max] (`above`: strictly above min), an integer when `int`. */
  number(
    path: string,
    value: unknown,
    bounds: { min: number; max: number; int?: boolean; above?: boolean },
  ): number | undefined {
    if (typeof value !== 'number' || Number.isNaN(value))
      return this.fail(path, `expected number, got ${show(value)}`);
    if (bounds.int && !Number.isSafeInteger(value))
      return this.fail(path, `expected int, got ${show(value)}`);
    if (!Number.isFinite(value)) return this.fail(path, `expected number, got ${show(value)}`);
    if (bounds.above ? value <= bounds.min : value < bounds.min)
      return this.fail(path, `${show(value)} is below ${bounds.above ? 'or equal to ' : ''}${bounds.min}`);
    if (value > bounds.max) return this.fail(path, `${show(value)} is above ${bounds.max}`);
    return value;
  }
}
