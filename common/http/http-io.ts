import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../errors.ts';

/** Largest request body the admin API reads (a pool of MAX_BROKERS URLs fits many times over). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** What a handler answers: JSON (`json`), text with its content type, or a stream it writes itself. */
export type Reply =
  | { status: number; json: unknown; headers?: Record<string, string> }
  | { status: number; text: string; contentType: string; headers?: Record<string, string> }
  | { status: number; stream: (res: ServerResponse) => void };

/**
 * Reads a request body of at most `limitBytes`. Over the limit: rejects with 413 and discards the
 * rest (the server's request timeout bounds a sender that never stops), so the client still reads
 * the answer instead of a reset. A body cut short rejects with 400.
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const tooLarge = () => new HttpError(413, `request body is larger than ${limitBytes} bytes`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limitBytes) {
        over = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', () => reject(new HttpError(400, 'request body was cut short')));
    req.on('close', () => {
      if (!req.complete) reject(new HttpError(400, 'request body was cut short'));
    });
  });
}

/** Parses a JSON body; an empty body is `undefined` (the route decides whether that is allowed). */
export function parseJson(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, `request body is not JSON: ${(err as Error).message}`);
  }
}

export function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed) return;
  if ('stream' in reply) return reply.stream(res);
  const isJson = 'json' in reply;
  const payload = isJson ? `${JSON.stringify(reply.json)}\n` : reply.text;
  res.writeHead(reply.status, {
    'content-type': isJson ? 'application/json; charset=utf-8' : reply.contentType,
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    ...reply.headers,
  });
  res.end(payload);
}
