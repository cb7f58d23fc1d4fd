import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { formatLine } from './parser.ts';
import type { TaxiRecord } from './record.ts';

/** Writes records as trace lines to a file (or stdout when `file` is undefined), honouring backpressure. */
export async function writeTrace(
  records: Iterable<TaxiRecord>,
  file: string | undefined,
  onRecord?: (n: number) => void,
): Promise<number> {
  const out = file === undefined ? process.stdout : createWriteStream(file);
  let n = 0;
  let chunk: string[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    const ok = out.write(`${chunk.join('\n')}\n`);
    chunk = [];
    if (!ok) await once(out, 'drain');
  };
  for (const r of records) {
    chunk.push(formatLine(r));
    n += 1;
    if (chunk.length === 1000) {
      await flush();
      onRecord?.(n);
    }
  }
  await flush();
  onRecord?.(n);
  if (file !== undefined) {
    const done = once(out, 'finish');
    out.end();
    await done;
  }
  return n;
}
