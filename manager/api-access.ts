import type { IncomingMessage } from 'node:http';
import { HttpError } from '../common/errors.ts';
import { bearerToken, cookieValue, tokenMatches } from '../common/http/auth.ts';
import type { Reply } from '../common/http/http-io.ts';
import { isLoopbackHost } from '../common/net/loopback.ts';

/** The dashboard's session cookie: the admin token, set by `GET /?token=…` (a browser sends no bearer). */
export const ACCESS_COOKIE = 'brokel_admin';

export type ReadAccess = 'auto' | 'open' | 'token';

/** `auto` resolved against the listener: open on loopback, token anywhere else. */
export function readsNeedToken(readAccess: ReadAccess, host: string): boolean {
  if (readAccess === 'auto') return !isLoopbackHost(host);
  return readAccess === 'token';
}

/** The token a request carries: `Authorization: Bearer` (RFC 6750 §2.1), else the dashboard cookie. */
function carried(req: IncomingMessage): string | undefined {
  const bearer = bearerToken(req.headers.authorization);
  if (bearer !== undefined) return bearer;
  const cookie = cookieValue(req.headers.cookie, ACCESS_COOKIE);
  try {
    return cookie === undefined ? undefined : decodeURIComponent(cookie);
  } catch {
    return undefined; // not percent-encoded as signIn writes it: not ours
  }
}

/**
 * Access to the manager API. Writes need the admin token; without one configured the write routes do
 * not exist (404). Reads need it when `needToken`. Throws the HttpError to answer, else returns.
 */
export function checkAccess(
  req: IncomingMessage,
  write: boolean,
  needToken: boolean,
  adminToken: string | undefined,
): void {
  if (write && adminToken === undefined) throw new HttpError(404, `no route ${req.url ?? ''}`);
  if (!write && !needToken) return;
  if (adminToken !== undefined && tokenMatches(carried(req), adminToken)) return;
  throw new HttpError(
    401,
    write ? 'the admin token is needed for this' : 'the admin token is needed to read',
  );
}

/**
 * `GET /?token=…`: the dashboard's sign-in. A matching token becomes an HttpOnly, SameSite=Strict
 * cookie (RFC 6265 §4.1.2) and the browser is sent back to `/` without the token in its address bar.
 */
export function signIn(url: URL, adminToken: string | undefined): Reply | undefined {
  const given = url.searchParams.get('token');
  if (url.pathname !== '/' || given === null) return undefined;
  if (adminToken === undefined || !tokenMatches(given, adminToken))
    throw new HttpError(401, 'that is not the admin token');
  return {
    status: 303,
    text: 'signed in\n',
    contentType: 'text/plain',
    headers: {
      location: '/',
      'set-cookie': `${ACCESS_COOKIE}=${encodeURIComponent(given)}; HttpOnly; SameSite=Strict; Path=/`,
    },
  };
}
