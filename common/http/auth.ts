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
  return tokenMatches(bearerToken(header), expected);
}

/** The value of cookie `name` in a `Cookie` header (RFC 6265 §5.4), or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** True when `given` is exactly `expected`, compared in constant time (both hashed first). */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  const a = createHash('sha256')
    .update(given ?? '')
    .digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given !== undefined;
}
