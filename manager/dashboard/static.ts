import { readFile } from 'node:fs/promises';
import type { Reply } from '../../common/http/http-io.ts';

/** The dashboard's files (no build step): path served → file next to this module, content type. */
const FILES: Record<string, { file: string; contentType: string }> = {
  '/': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', contentType: 'text/javascript; charset=utf-8' },
  '/dashboard/charts.js': { file: 'charts.js', contentType: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { file: 'style.css', contentType: 'text/css; charset=utf-8' },
};

const cache = new Map<string, string>();

/** The reply for one of the dashboard's static paths, or undefined when `path` is not one. */
export async function dashboardFile(path: string): Promise<Reply | undefined> {
  const entry = FILES[path];
  if (!entry) return undefined;
  let text = cache.get(entry.file);
  if (text === undefined) {
    text = await readFile(new URL(entry.file, import.meta.url), 'utf8');
    cache.set(entry.file, text);
  }
  return {
    status: 200,
    text,
    contentType: entry.contentType,
    headers: {
      'content-security-policy':
        "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:",
      'x-content-type-options': 'nosniff',
    },
  };
}
