// The configuration reference (docs/configuration.md), generated from the zod schema so it cannot
// drift: types, defaults and limits from the schema itself, descriptions from its /** */ comments.
//   node --import tsx scripts/docs/config-reference.ts          writes docs/configuration.md
//   node --import tsx scripts/docs/config-reference.ts --check  exits 1 when the file is stale
import { readFile, writeFile } from 'node:fs/promises';
import ts from 'typescript';
import { stringify } from 'yaml';
import { z } from 'zod';
import { validate } from '../../common/config/load.ts';
import { configSchema } from '../../common/config/schema.ts';

const SCHEMA_FILE = new URL('../../common/config/schema.ts', import.meta.url);
export const REFERENCE_FILE = new URL('../../docs/configuration.md', import.meta.url);

/** Where each schema variable of schema.ts sits in brokel.yaml (a new variable with comments needs a line). */
const ROOTS: Record<string, string[]> = {
  configSchema: [''],
  levelBase: ['levels.brokers', 'levels.orchestrators'],
  brokerLevelSchema: ['levels.brokers'],
  orchestratorLevelSchema: ['levels.orchestrators'],
  localProviderSchema: ['provider.local'],
  dnsSchema: ['dns'],
  geoLocationSchema: ['dns.site', 'dns.locations[]'],
  brokerUserSchema: ['brokers.users[]'],
  topicPermissionSchema: ['brokers.topicPermissions[]'],
  hpaSchema: ['hpa'],
};

type Json = {
  type?: string;
  default?: unknown;
  enum?: unknown[];
  anyOf?: Json[];
  properties?: Record<string, Json>;
  items?: Json;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  minItems?: number;
  pattern?: string;
  format?: string;
  additionalProperties?: Json | boolean;
};

/** Path in brokel.yaml → the /** *\/ comment above that field in schema.ts. */
export function schemaComments(source: string): Map<string, string> {
  const file = ts.createSourceFile('schema.ts', source, ts.ScriptTarget.ES2022, true);
  const comments = new Map<string, string>();
  const visit = (node: ts.Node) => {
    if (ts.isPropertyAssignment(node)) {
      const docs = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
      const text = docs
        .map((d) => ts.getTextOfJSDocComment(d.comment) ?? '')
        .join(' ')
        .trim();
      if (text) {
        const keys: string[] = [];
        let root: string | undefined;
        for (let n: ts.Node | undefined = node; n; n = n.parent) {
          if (ts.isPropertyAssignment(n)) keys.unshift(n.name.getText(file));
          if (ts.isVariableDeclaration(n)) {
            root = n.name.getText(file);
            break;
          }
        }
        const prefixes = root === undefined ? undefined : ROOTS[root];
        if (!prefixes)
          throw new Error(`schema.ts: ${root}.${keys.join('.')}: add ${root} to ROOTS in ${import.meta.url}`);
        for (const prefix of prefixes)
          comments.set([prefix, ...keys].filter(Boolean).join('.'), text.replace(/\s+/g, ' '));
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return comments;
}

const BIG = Number.MAX_SAFE_INTEGER;
const code = (v: unknown) => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;

function typeOf(s: Json): string {
  if (s.enum) return s.enum.map(code).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object')
    return `map of ${typeOf(s.additionalProperties)}`;
  if (s.format === 'uri') return 'URL';
  return s.type ?? 'any';
}

function limits(s: Json): string {
  const parts: string[] = [];
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.minimum !== undefined && s.maximum !== undefined && s.maximum < BIG)
    parts.push(`${s.minimum}–${s.maximum}`);
  else if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  else if (s.maximum !== undefined && s.maximum < BIG) parts.push(`≤ ${s.maximum}`);
  if (s.minLength !== undefined) parts.push(`≥ ${s.minLength} characters`);
  if (s.minItems !== undefined) parts.push(`≥ ${s.minItems} items`);
  if (s.pattern !== undefined) parts.push(`matches \`${s.pattern.replaceAll('|', '\\|')}\``);
  return parts.join(', ');
}

const isObject = (s: Json) => s.type === 'object' && s.properties !== undefined;

/** Markdown sections: one table per object, nested objects and lists of objects after their parent. */
function sections(path: string, s: Json, comments: Map<string, string>, out: string[]): void {
  const rows: string[] = [];
  const nested: Array<[string, Json]> = [];
  for (const [key, field] of Object.entries(s.properties ?? {})) {
    const full = path ? `${path}.${key}` : key;
    if (isObject(field)) nested.push([full, field]);
    else if (field.type === 'array' && field.items && isObject(field.items))
      nested.push([`${full}[]`, field.items]);
    const shown = isObject(field) ? `object (see [${full}](#${anchor(full)}))` : typeOf(field);
    const def = field.default === undefined || isObject(field) ? '' : code(field.default);
    const about = comments.get(full) ?? '';
    rows.push(`| \`${key}\` | ${shown} | ${def} | ${limits(field)} | ${about} |`);
  }
  const title = path || 'top level';
  out.push(`## ${title}`, '');
  const about = comments.get(path.replace(/\[\]$/, '')) ?? comments.get(path);
  if (about) out.push(about, '');
  out.push('| field | type | default | allowed | what |', '| --- | --- | --- | --- | --- |', ...rows, '');
  for (const [p, child] of nested) sections(p, child, comments, out);
}

const anchor = (path: string) => path.toLowerCase().replace(/[^a-z0-9]+/g, '');

export async function renderConfigReference(): Promise<string> {
  const comments = schemaComments(await readFile(SCHEMA_FILE, 'utf8'));
  const json = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Json;
  const out = [
    '# Configuration reference',
    '',
    '<!-- GENERATED by scripts/docs/config-reference.ts from common/config/schema.ts: do not edit; run',
    '     `npm run docs:config` after changing the schema (test/unit/config-reference.test.ts checks it). -->',
    '',
    'One YAML file (`brokel.yaml`, given with `-c FILE`), validated at load. Every field has a default,',
    'so no file is needed; unknown fields are errors, and every error names the path and the bad value',
    '(`levels.brokers.upper: 1.4 is above 1`). `brokel config check FILE` validates a file and prints the',
    'effective config. `brokel up` re-reads the thresholds, min/max, α and the interval when the file',
    'changes (or on SIGHUP); a bad file is refused and the running config stays.',
    '',
    'The effective config with no file (every default):',
    '',
    '```yaml',
    stringify(validate(configSchema, {})).trimEnd(),
    '```',
    '',
  ];
  sections('', json, comments, out);
  return `${out.join('\n').trimEnd()}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = await renderConfigReference();
  if (process.argv.includes('--check')) {
    const current = await readFile(REFERENCE_FILE, 'utf8').catch(() => '');
    if (current !== text) {
      console.error('docs/configuration.md is stale: run npm run docs:config');
      process.exitCode = 1;
    }
  } else {
    await writeFile(REFERENCE_FILE, text);
    console.error('wrote docs/configuration.md');
  }
}
