import { createHash, timingSafeEqual } from 'node:crypto';

const BEARER = /^Bearer +([^\s]+) *$/i;

/** The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length > 4096) return undefined;
  return BEARER.exec(header)?.[1];
}

/**
 * True when the header carries exactly the expected token. Both sides are hashed first so the
 * comparison is constant-time whatever their lengths (timingSafeEqual needs equal lengths, and
 * comparing lengths directly would leak the token's length).
 */
export function bearerTokenMatches(header: string | undefined, expected: string): boolean {
  const given = bearerToken(header);
  const a = createHash('sha256')
    .update(given ?? '')
    .digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given !== undefined;
}
