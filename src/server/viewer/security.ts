import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OisError } from '../../errors.js';
import { loginPage } from './assets/index.js';
import type { ViewerOptions } from './options.js';

/**
 * Everything that stands between a request and the viewer's routes: the security headers of every answer,
 * the Host check against DNS rebinding, the refusal of cross-site writes (the CSRF header), the login
 * (form, cookie, bearer token) and its rate limit. The routes themselves assume a request that got past it.
 */

/** An unauthenticated request. */
export const VIEWER_AUTH_CODE = 'OIS_ERR_VIEWER_UNAUTHORIZED';
export const VIEWER_COOKIE = 'ois_viewer';
/** Header every state-changing API call carries: a cross-site form or fetch cannot add it without CORS. */
export const VIEWER_CSRF_HEADER = 'x-ois-viewer';

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

const LOGIN_FAILURES_PER_MINUTE = 10;
/** The Host names a loopback viewer answers to (the names a browser on this machine uses). */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
/** What an unauthenticated request may still fetch: the login page and the style it uses. */
const OPEN_PATHS = new Set(['/login', '/assets/viewer.css']);

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Constant-time comparison of two secrets of any length. */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

function cookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

function hostName(host: string | undefined): string {
  if (!host) return '';
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  return host.split(':')[0] ?? '';
}

/**
 * Puts the viewer's guard on `app` (the viewer plugin's own context, so that every route registered in it
 * or below it is guarded) and adds `/login` and `/logout`. Throws when a login is required and there is no
 * token to check it against.
 */
export function secureViewer(app: FastifyInstance, auth: ViewerOptions['auth']): void {
  if (auth.required && !auth.token) {
    throw new OisError('OIS_ERR_CONFIG_INVALID', 'the viewer needs a token when it is not on loopback', {
      hint: 'set a viewer token, or bind the daemon to 127.0.0.1',
    });
  }
  const token = auth.token;
  // The cookie is derived from the token, never the token itself.
  const session = token ? createHmac('sha256', token).update('ois-viewer-session').digest('base64url') : null;
  const failures = new Map<string, { count: number; until: number }>();

  const authenticated = (request: FastifyRequest): boolean => {
    if (!auth.required) return true;
    const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim();
    if (bearer && token && sameSecret(bearer, token)) return true;
    const cookie = cookies(request.headers.cookie).get(VIEWER_COOKIE);
    return cookie !== undefined && session !== null && sameSecret(cookie, session);
  };

  app.addHook('onRequest', async (request, reply) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    reply.header('cache-control', 'no-store');
    const path = request.url.split('?')[0] ?? '';
    // Without a token (loopback), the Host header must be a loopback name: a web page cannot then reach
    // the viewer through DNS rebinding (its own name resolved to 127.0.0.1).
    if (!auth.required && !LOOPBACK_HOSTS.has(hostName(request.headers.host).toLowerCase())) {
      return reply.status(403).send({ code: 'OIS_ERR_USAGE', message: 'open the viewer on localhost' });
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      // Cross-site requests: a form post cannot set this header, and fetch would need a CORS preflight we
      // never answer. The login form is the one exception (it carries the secret itself).
      const site = request.headers['sec-fetch-site'];
      if (site !== undefined && site !== 'same-origin' && site !== 'none') {
        return reply.status(403).send({ code: 'OIS_ERR_USAGE', message: 'cross-site request refused' });
      }
      if (path !== '/login' && request.headers[VIEWER_CSRF_HEADER] !== '1') {
        return reply.status(403).send({
          code: 'OIS_ERR_USAGE',
          message: `state-changing calls need the ${VIEWER_CSRF_HEADER} header`,
        });
      }
    }
    if (OPEN_PATHS.has(path) || authenticated(request)) return;
    if (request.method === 'GET' && (path === '/' || path === '/index.html')) {
      return reply.redirect('/login', 303);
    }
    return reply.status(401).header('www-authenticate', 'Bearer realm="ois viewer"').send({
      code: VIEWER_AUTH_CODE,
      message: 'log in to the viewer first (or send Authorization: Bearer)',
    });
  });

  app.get('/login', async (_request, reply) => {
    if (!auth.required) return reply.redirect('/', 303);
    return reply.type('text/html; charset=utf-8').send(loginPage(''));
  });
  app.post('/login', async (request, reply) => {
    if (!auth.required) return reply.redirect('/', 303);
    const now = Date.now();
    const seen = failures.get(request.ip);
    if (seen && seen.until > now && seen.count >= LOGIN_FAILURES_PER_MINUTE) {
      return reply
        .status(429)
        .type('text/html; charset=utf-8')
        .send(loginPage('Too many attempts; wait a minute.'));
    }
    const given = (request.body as { token?: unknown } | undefined)?.token;
    if (typeof given !== 'string' || !token || !session || !sameSecret(given, token)) {
      const entry = seen && seen.until > now ? seen : { count: 0, until: now + 60_000 };
      entry.count++;
      failures.set(request.ip, entry);
      return reply.status(401).type('text/html; charset=utf-8').send(loginPage('Wrong token.'));
    }
    failures.delete(request.ip);
    // No `Secure`: the daemon speaks plain HTTP (over ZeroTier, which encrypts the link).
    reply.header(
      'set-cookie',
      `${VIEWER_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=2592000`,
    );
    return reply.redirect('/', 303);
  });
  app.post('/logout', async (_request, reply) => {
    reply.header('set-cookie', `${VIEWER_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    return { ok: true };
  });
}
