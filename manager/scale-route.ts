import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { validate } from '../common/config/load.ts';
import { HttpError } from '../common/errors.ts';
import { bearerTokenMatches } from '../common/http/auth.ts';
import { parseJson, readBody } from '../common/http/http-io.ts';
import type { Level } from './providers/cloud-provider.ts';

/** `POST /api/scale` body: a level (config's names) and a replica count, or `auto` to hand it back. */
export const scaleRequestSchema = z.strictObject({
  level: z.enum(['brokers', 'orchestrators']),
  target: z.union([z.number().int().min(0).max(10_000), z.literal('auto')]),
});

const LEVEL: Record<'brokers' | 'orchestrators', Level> = {
  brokers: 'broker',
  orchestrators: 'orchestrator',
};

/**
 * The one write route of the manager API: an operator's manual target for a level. It needs the
 * deployment's admin token (the one the orchestrators share) as a bearer token (RFC 6750 §2.1);
 * without a token configured, the route does not exist.
 */
export async function handleScale(
  req: IncomingMessage,
  adminToken: string | undefined,
  setTarget: (level: Level, target: number | undefined) => void | Promise<void>,
): Promise<{ level: string; target: number | 'auto' }> {
  if (adminToken === undefined) throw new HttpError(404, 'no route /api/scale');
  if (!bearerTokenMatches(req.headers.authorization, adminToken))
    throw new HttpError(401, 'the admin token is needed to scale');
  const body = validate(scaleRequestSchema, parseJson(await readBody(req, 4096)), 'scale');
  await setTarget(LEVEL[body.level], body.target === 'auto' ? undefined : body.target);
  return body;
}
