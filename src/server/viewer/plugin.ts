import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { followChat, parseDuration, validateDate } from '../../chatlog/index.js';
import type { InstanceConfig } from '../../config/index.js';
import { OisError } from '../../errors.js';
import type { OutboxMessage, PresenceSnapshot } from '../../federation/index.js';
import { federationOf, readQueued } from '../../federation/index.js';
import type { NoticeFeed } from '../../notices/index.js';
import type { Registry } from '../../registry/index.js';
import type { TeamStore } from '../../team/index.js';
import {
  DEFAULT_SHARED_MAX_BYTES,
  getShared,
  listShared,
  putShared,
  removeShared,
} from '../../team/index.js';
import { CSS, HTML, JS, loginPage } from './assets/index.js';
import { DayCache, involves, searchChat, toViewerEntry } from './chat.js';

export interface ViewerOptions {
  /** The team folder. */
  store: TeamStore;
  /** The current registry (AGENTS.md). */
  registry: () => Promise<Registry>;
  config: InstanceConfig & { name: string };
  /** What this instance knows of its peers (`readPresence(home)`). */
  presence: () => Promise<PresenceSnapshot>;
  /** The daemon's outbox. */
  outbox: {
    list(filter?: { state?: OutboxMessage['state'] | OutboxMessage['state'][] }): OutboxMessage[];
    retryNow(id: string): OutboxMessage;
    drop(id: string): OutboxMessage;
  };
  /** Compose: the same send path as `ois send`. */
  send: (to: string[] | 'all', body: string) => Promise<unknown>;
  /**
   * `required` when the daemon listens on a non-loopback address: every route but the login page then
   * needs `token` (cookie after the login form, or `Authorization: Bearer`).
   */
  auth: { required: boolean; token: string | null };
  /** The notices feed (`ois notices`): the team's and this daemon's, with what was read. */
  notices?: {
    read(options: { all: boolean }): Promise<NoticeFeed>;
    markRead(until: string): Promise<void>;
  };
  /** Poll period of the live feed (default 250 ms). */
  followIntervalMs?: number;
  /** Largest shared file (default 25 MiB). */
  sharedMaxBytes?: number;
}

/** An unauthenticated request. Not in src/errors.ts yet: see docs/viewer.md. */
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

const DEFAULT_PAGE = 200;
const MAX_PAGE = 1000;
const MAX_SEARCH = 500;
const LOGIN_FAILURES_PER_MINUTE = 10;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

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

function outboxView(m: OutboxMessage) {
  let preview = '';
  try {
    const { body } = readQueued(m.payload);
    preview = body.length > 200 ? `${body.slice(0, 200)}…` : body;
  } catch {
    // Opaque payload: no preview.
  }
  // The payload itself stays in the outbox.
  const { payload: _payload, ...rest } = m;
  return { ...rest, preview };
}

function queryString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * The web viewer of `ois serve`: the chat log (days, pages, search, live feed), agents, shared files, the
 * outbox and a compose form, as one page plus a JSON API under `/api`. Register it in the daemon's app:
 * `await app.register(viewerPlugin, options)`. It sets its own error handler, content parsers and
 * security headers, all scoped to its routes.
 */
export async function viewerPlugin(app: FastifyInstance, opts: ViewerOptions): Promise<void> {
  if (opts.auth.required && !opts.auth.token) {
    throw new OisError('OIS_ERR_CONFIG_INVALID', 'the viewer needs a token when it is not on loopback', {
      hint: 'set a viewer token, or bind the daemon to 127.0.0.1',
    });
  }
  const token = opts.auth.token;
  const session = token ? createHmac('sha256', token).update('ois-viewer-session').digest('base64url') : null;
  const days = new DayCache(opts.store);
  const maxBytes = opts.sharedMaxBytes ?? DEFAULT_SHARED_MAX_BYTES;
  const streams = new Set<() => void>();
  const failures = new Map<string, { count: number; until: number }>();

  app.addContentTypeParser(
    'application/octet-stream',
    { parseAs: 'buffer', bodyLimit: maxBytes },
    (_request, body, done) => done(null, body),
  );
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 4096 },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const { status, code, message } = viewerError(err);
    // Our own errors say what to fix, as the CLI does (a broken AGENTS.md: the file, the line, the hint);
    // only an unexpected error stays 'internal error'.
    const ours = err instanceof OisError && err.code !== 'OIS_ERR_INTERNAL';
    if (status >= 500) request.log.error({ err }, 'viewer request failed');
    if (ours) {
      return reply
        .status(status)
        .send({ code, message, ...(err.hint === undefined ? {} : { hint: err.hint }) });
    }
    return reply.status(status).send({ code, message: status >= 500 ? 'internal error' : message });
  });

  const authenticated = (request: FastifyRequest): boolean => {
    if (!opts.auth.required) return true;
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
    if (!opts.auth.required && !LOOPBACK_HOSTS.has(hostName(request.headers.host).toLowerCase())) {
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
    if (path === '/login' || path === '/assets/viewer.css' || authenticated(request)) return;
    if (request.method === 'GET' && (path === '/' || path === '/index.html')) {
      return reply.redirect('/login', 303);
    }
    return reply.status(401).header('www-authenticate', 'Bearer realm="ois viewer"').send({
      code: VIEWER_AUTH_CODE,
      message: 'log in to the viewer first (or send Authorization: Bearer)',
    });
  });

  app.addHook('preClose', async () => {
    for (const stop of streams) stop();
  });

  // --- page and assets -----------------------------------------------------------------------------------
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(HTML));
  app.get('/assets/viewer.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').send(JS),
  );
  app.get('/assets/viewer.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(CSS));

  app.get('/login', async (_request, reply) => {
    if (!opts.auth.required) return reply.redirect('/', 303);
    return reply.type('text/html; charset=utf-8').send(loginPage(''));
  });
  app.post('/login', async (request, reply) => {
    if (!opts.auth.required) return reply.redirect('/', 303);
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

  // --- chat ----------------------------------------------------------------------------------------------
  app.get('/api/me', async () => ({ name: opts.config.name, auth: opts.auth.required }));

  app.get('/api/chat/days', async () => ({ days: (await days.days()).reverse() }));

  app.get('/api/chat/day/:date', async (request) => {
    const { date } = request.params as { date: string };
    const q = request.query as Record<string, unknown>;
    validateDate(date);
    const limit = pageSize(q.limit);
    const start = q.cursor === undefined || q.cursor === '' ? 0 : Number(q.cursor);
    if (!Number.isInteger(start) || start < 0) {
      throw new OisError('OIS_ERR_USAGE', `not a cursor: ${JSON.stringify(q.cursor)}`);
    }
    const who = queryString(q.with);
    const all = await days.day(date);
    const entries = who ? all.filter((e) => involves(e, who)) : all;
    const page = entries.slice(start, start + limit);
    const end = start + page.length;
    return { date, total: entries.length, entries: page, next: end < entries.length ? String(end) : null };
  });

  app.get('/api/chat/search', async (request) => {
    const q = request.query as Record<string, unknown>;
    const limit = Math.min(pageSize(q.limit), MAX_SEARCH);
    // The same search as `ois chat --grep` (one function, one meaning): the body, case-insensitive.
    return searchChat(opts.store, {
      grep: queryString(q.q),
      with: queryString(q.with),
      since: parseSince(queryString(q.since)),
      limit,
    });
  });

  app.get('/api/events', async (request, reply) => {
    const who = queryString((request.query as Record<string, unknown>).with);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    const controller = new AbortController();
    // Comments keep proxies and the browser from timing the stream out.
    const heartbeat = setInterval(() => res.write(': ping\n\n'), 15_000);
    heartbeat.unref();
    const stop = () => {
      if (controller.signal.aborted) return;
      controller.abort();
      clearInterval(heartbeat);
      streams.delete(stop);
      res.end();
    };
    streams.add(stop);
    request.raw.on('close', stop);
    res.on('close', stop);
    // The unread count of the notices panel, sent when it changes.
    if (opts.notices) {
      const feed = opts.notices;
      let last = '';
      const tick = async () => {
        const f = await feed.read({ all: false }).catch(() => null);
        if (!f || controller.signal.aborted) return;
        const key = `${f.unread}|${f.notices.at(-1)?.id ?? ''}`;
        if (key !== last) {
          last = key;
          res.write(
            `event: notices\ndata: ${JSON.stringify({ unread: f.unread, latest: f.notices.at(-1) ?? null })}\n\n`,
          );
        }
      };
      void tick();
      const poll = setInterval(() => void tick(), Math.max(opts.followIntervalMs ?? 250, 1000));
      poll.unref();
      controller.signal.addEventListener('abort', () => clearInterval(poll));
    }
    followChat(
      opts.store,
      {
        signal: controller.signal,
        intervalMs: opts.followIntervalMs ?? 250,
        ...(who ? { with: who } : {}),
        onError: (err) => request.log.warn({ err }, 'viewer live feed: reading the chat log failed'),
      },
      (entry) => {
        res.write(`event: entry\ndata: ${JSON.stringify(toViewerEntry(entry))}\n\n`);
      },
    )
      .catch((err: unknown) => request.log.warn({ err }, 'viewer live feed stopped'))
      .finally(stop);
  });

  // --- notices -------------------------------------------------------------------------------------------
  app.get('/api/notices', async (request) => {
    if (!opts.notices) return { notices: [], unread: 0 };
    const all = queryString((request.query as Record<string, unknown>).all) === '1';
    const feed = await opts.notices.read({ all });
    return { notices: all ? feed.notices : feed.notices.filter((n) => !n.muted), unread: feed.unread };
  });

  app.post('/api/notices/read', { bodyLimit: 1024 }, async (request) => {
    // Checked here rather than by a schema, as /api/send is.
    const until = (request.body as { until?: unknown } | null)?.until;
    if (typeof until !== 'string' || Number.isNaN(Date.parse(until)) || !until.endsWith('Z')) {
      throw new OisError('OIS_ERR_USAGE', '"until" must be an ISO-8601 UTC time');
    }
    if (!opts.notices) return { unread: 0 };
    await opts.notices.markRead(until);
    return { unread: (await opts.notices.read({ all: false })).unread };
  });

  // --- agents --------------------------------------------------------------------------------------------
  app.get('/api/agents', async () => {
    const [registry, presence] = await Promise.all([opts.registry(), opts.presence().catch(() => ({}))]);
    const self = opts.config.name.toLowerCase();
    return {
      self: opts.config.name,
      agents: registry.agents.map((a) => {
        const zt = (a.extra.zerotier as { ip?: unknown } | undefined)?.ip;
        const p = (presence as PresenceSnapshot)[a.name] ?? null;
        return {
          name: a.name,
          id: a.id,
          role: a.role,
          status: a.status,
          description: a.description,
          capabilities: a.capabilities,
          self: a.name.toLowerCase() === self,
          delivery: federationOf(a) ? 'federated' : 'direct',
          zerotier: typeof zt === 'string' ? zt : null,
          presence: p ? p.status : 'unknown',
          lastSeen: p ? p.lastSeen : null,
          checkedAt: p ? p.checkedAt : null,
        };
      }),
    };
  });

  // --- shared files --------------------------------------------------------------------------------------
  app.get('/api/shared', async () => ({ files: await listShared(opts.store), maxBytes }));

  app.get('/api/shared/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    const found = await getShared(opts.store, name);
    if (!found) return notFound(reply, `no shared file ${name}`);
    return reply
      .type('application/octet-stream')
      .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(found.info.name)}`)
      .header('x-ois-sha256', found.info.sha256 ?? '')
      .send(found.data);
  });

  app.put('/api/shared/:name', { bodyLimit: maxBytes }, async (request, reply) => {
    const { name } = request.params as { name: string };
    const q = request.query as Record<string, unknown>;
    if (!Buffer.isBuffer(request.body)) {
      throw new OisError(
        'OIS_ERR_USAGE',
        'send the file as the raw body, Content-Type: application/octet-stream',
      );
    }
    const overwrite = q.overwrite === '1' || q.overwrite === 'true';
    const info = await putShared(opts.store, name, request.body, {
      uploader: opts.config.name,
      overwrite,
      maxBytes,
    });
    return reply.status(201).send(info);
  });

  app.delete('/api/shared/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    if (!(await removeShared(opts.store, name))) return notFound(reply, `no shared file ${name}`);
    return { ok: true, name };
  });

  // --- outbox --------------------------------------------------------------------------------------------
  app.get('/api/outbox', async () => {
    const messages = opts.outbox.list({ state: ['queued', 'inflight', 'dead'] }).map(outboxView);
    return {
      queued: messages.filter((m) => m.state !== 'dead'),
      dead: messages.filter((m) => m.state === 'dead'),
    };
  });
  app.post('/api/outbox/:id/retry', async (request) => {
    const { id } = request.params as { id: string };
    return { ok: true, message: outboxView(opts.outbox.retryNow(id)) };
  });
  app.post('/api/outbox/:id/drop', async (request) => {
    const { id } = request.params as { id: string };
    return { ok: true, message: outboxView(opts.outbox.drop(id)) };
  });

  // --- compose -------------------------------------------------------------------------------------------
  app.post('/api/send', { bodyLimit: 256 * 1024 }, async (request) => {
    // Checked here rather than by a schema: the host app's Ajv options (type coercion) are not ours to rely on.
    const input = request.body as { to?: unknown; body?: unknown } | null;
    const to = input?.to;
    const body = input?.body;
    const names =
      Array.isArray(to) &&
      to.length > 0 &&
      to.length <= 100 &&
      to.every((t): t is string => typeof t === 'string' && t.trim().length > 0);
    if (to !== 'all' && !names) {
      throw new OisError('OIS_ERR_USAGE', '"to" must be "all" or a list of agent names');
    }
    if (typeof body !== 'string' || body.trim().length === 0) {
      throw new OisError('OIS_ERR_MESSAGE_EMPTY', 'no message given');
    }
    return { ok: true, result: await opts.send(to as string[] | 'all', body) };
  });
}

function pageSize(value: unknown): number {
  if (value === undefined || value === '') return DEFAULT_PAGE;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new OisError('OIS_ERR_USAGE', `not a page size: ${String(value)}`);
  return Math.min(n, MAX_PAGE);
}

/** `3d`, `12h` (a duration back from now), or a date or instant (`2026-11-21`, ISO). */
function parseSince(text: string | undefined): Date | undefined {
  if (!text) return undefined;
  if (/^\d+[mhdw]$/.test(text)) return new Date(Date.now() - parseDuration(text));
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) {
    throw new OisError('OIS_ERR_USAGE', `not a time: ${JSON.stringify(text)}`, {
      hint: 'give a duration such as 3d, or a date such as 2026-11-21',
    });
  }
  return at;
}

function notFound(reply: FastifyReply, message: string) {
  return reply.status(404).send({ code: 'OIS_ERR_USAGE', message });
}

/** Errors in the viewer's answers: our codes, with the status the refusal calls for. */
function viewerError(err: FastifyError | OisError): { status: number; code: string; message: string } {
  if (err instanceof OisError) {
    // The one code whose viewer status differs from its table status: a missing outbox id is a 404 here.
    const status = err.code === 'OIS_ERR_OUTBOX_NOT_FOUND' ? 404 : err.status;
    return { status, code: err.code, message: err.message };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'OIS_ERR_USAGE', message: 'the body is too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'OIS_ERR_USAGE', message: 'unsupported content type' };
  }
  if (err.validation || err.statusCode === 400) {
    return { status: 400, code: 'OIS_ERR_USAGE', message: err.message };
  }
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, code: 'OIS_ERR_USAGE', message: err.message };
  }
  return { status: 500, code: 'OIS_ERR_INTERNAL', message: err.message };
}
