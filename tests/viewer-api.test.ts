import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { InjectOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { appendEntry, type ChatEntry, dayHeader, formatEntry } from '../src/chatlog/index.js';
import { recordLocalNotice } from '../src/notices/index.js';
import { renderMarkdown } from '../src/server/viewer/markdown.js';
import { SECURITY_HEADERS } from '../src/server/viewer/plugin.js';
import { APPEND_WORKER, runNode, todayUtc, type ViewerFixture, viewerFixture } from './e2e/viewer-fixture.js';
import { runOis } from './helpers/cli.js';

const CSRF = { 'x-ois-viewer': '1' };

function entry(n: number, date: string, over: Partial<ChatEntry> = {}): ChatEntry {
  const seq = String(n).padStart(5, '0');
  return {
    id: `01JTEST${seq}`,
    at: `${date}T${String(Math.floor(n / 3600) % 24).padStart(2, '0')}:${String(Math.floor(n / 60) % 60).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}.000Z`,
    from: n % 2 === 0 ? 'alpha' : 'beta',
    to: [n % 2 === 0 ? 'beta' : 'alpha'],
    kind: 'message',
    body: `message number ${seq}`,
    deliveries: [{ to: n % 2 === 0 ? 'beta' : 'alpha', outcome: 'delivered', seconds: 0.1 }],
    ...over,
  };
}

let fx: ViewerFixture | null = null;
afterEach(async () => {
  await fx?.close();
  fx = null;
});

describe('viewer - chat API', () => {
  it('viewer - pages a day of 10,000 entries, parsing it once', async () => {
    fx = await viewerFixture();
    const date = '2026-11-20';
    const text =
      dayHeader(date) + Array.from({ length: 10_000 }, (_, n) => formatEntry(entry(n, date))).join('');
    await mkdir(join(fx.dir, 'chat'), { recursive: true });
    await writeFile(join(fx.dir, 'chat', `${date}.md`), text);

    let t = performance.now();
    const cold = await fx.app.inject({ url: `/api/chat/day/${date}?limit=100` });
    const coldMs = performance.now() - t;
    expect(cold.statusCode).toBe(200);
    const first = cold.json();
    expect(first.total).toBe(10_000);
    expect(first.entries).toHaveLength(100);
    expect(first.entries[0].id).toBe('01JTEST00000');
    expect(first.entries[99].id).toBe('01JTEST00099');
    expect(first.entries[0]).toMatchObject({
      from: 'alpha',
      to: ['beta'],
      outcome: 'delivered',
      at: `${date}T00:00:00.000Z`,
    });
    expect(first.next).toBe('100');

    t = performance.now();
    const warm = await fx.app.inject({ url: `/api/chat/day/${date}?limit=100` });
    const warmMs = performance.now() - t;
    const second = await fx.app.inject({ url: `/api/chat/day/${date}?limit=100&cursor=${first.next}` });
    expect(second.json().entries[0].id).toBe('01JTEST00100');
    const last = await fx.app.inject({ url: `/api/chat/day/${date}?limit=1000&cursor=9500` });
    expect(last.json().entries).toHaveLength(500);
    expect(last.json().next).toBeNull();
    const filtered = await fx.app.inject({ url: `/api/chat/day/${date}?limit=5&with=BETA` });
    expect(filtered.json().total).toBe(10_000);
    console.log(
      `viewer first page of a 10,000-entry day: ${coldMs.toFixed(1)} ms cold (parse), ${warmMs.toFixed(1)} ms cached`,
    );
    expect(warm.json().entries).toEqual(first.entries);
    // Five requests for the same unchanged day: the file was read (and parsed) once.
    expect(fx.reads.get(`chat/${date}.md`)).toBe(1);

    // A new entry changes size and mtime: the cache notices.
    await appendEntry(fx.store, entry(10_000, date, { body: 'the very last one' }));
    const after = await fx.app.inject({ url: `/api/chat/day/${date}?cursor=10000` });
    expect(after.json().total).toBe(10_001);
    expect(after.json().entries[0].body).toBe('the very last one');
  });

  it('viewer - lists days, rejects bad dates and cursors', async () => {
    fx = await viewerFixture();
    await appendEntry(fx.store, entry(1, '2026-11-19'));
    await appendEntry(fx.store, entry(2, '2026-11-21'));
    expect((await fx.app.inject({ url: '/api/chat/days' })).json()).toEqual({
      days: ['2026-11-21', '2026-11-19'],
    });
    expect((await fx.app.inject({ url: '/api/chat/day/2026-13-40' })).statusCode).toBe(400);
    expect((await fx.app.inject({ url: '/api/chat/day/..%2F..%2Fetc' })).statusCode).toBe(400);
    expect((await fx.app.inject({ url: '/api/chat/day/2026-11-21?cursor=-1' })).statusCode).toBe(400);
    expect((await fx.app.inject({ url: '/api/chat/day/2026-11-22' })).json()).toMatchObject({
      total: 0,
      entries: [],
    });
  });

  it('viewer - searches across days with agent and time filters', async () => {
    fx = await viewerFixture();
    await appendEntry(fx.store, entry(1, '2026-11-19', { body: 'The Deploy is done' }));
    await appendEntry(fx.store, entry(2, '2026-11-20', { body: 'deploy again tomorrow' }));
    await appendEntry(fx.store, entry(3, '2026-11-21', { body: 'nothing to see' }));
    const all = (await fx.app.inject({ url: '/api/chat/search?q=DEPLOY' })).json();
    expect(all.total).toBe(2);
    expect(all.entries.map((e: { body: string }) => e.body)).toEqual([
      'The Deploy is done',
      'deploy again tomorrow',
    ]);
    const byBeta = (await fx.app.inject({ url: '/api/chat/search?q=deploy&with=beta' })).json();
    expect(byBeta.entries.map((e: { from: string }) => e.from)).toEqual(['beta', 'alpha']);
    const gamma = (await fx.app.inject({ url: '/api/chat/search?q=deploy&with=gamma' })).json();
    expect(gamma.total).toBe(0);
    const since = (await fx.app.inject({ url: '/api/chat/search?q=deploy&since=2026-11-20' })).json();
    expect(since.entries.map((e: { body: string }) => e.body)).toEqual(['deploy again tomorrow']);
    expect((await fx.app.inject({ url: '/api/chat/search?q=x&since=yesterday-ish' })).statusCode).toBe(400);
  });

  it('viewer - search gives what ois chat --grep gives for the same query', async () => {
    fx = await viewerFixture();
    const day = (ago: number) => new Date(Date.now() - ago * 86_400_000).toISOString().slice(0, 10);
    const bodies = [
      '# Deploy plan\n---\nthe deploy is at noon',
      '\u212Aelvin readings from the \u0130stanbul office',
      'nothing to see for gamma',
      'DEPLOY done → beta · delivered',
      '  ## 10:00 - deploy in a heading',
    ];
    for (const [n, body] of bodies.entries()) {
      await appendEntry(fx.store, entry(n + 1, day(n % 3), { body, to: [n % 2 ? 'alpha' : 'gamma'] }));
    }
    // An OIS-era day file, read as legacy entries.
    await writeFile(
      join(fx.dir, 'chat', `${day(4)}.md`),
      `# ${day(4)} Chat Log\n\n## 09:15 - Nova\n\n[PENDING] deploy at noon\n\n---\n\n`,
    );
    const queries = [
      'deploy',
      'DEPLOY',
      '# deploy',
      'kelvin',
      'i\u0307stanbul',
      'gamma',
      'beta',
      '01JTEST',
      ' ## 10',
    ];
    for (const q of queries) {
      for (const who of ['', 'gamma']) {
        const withArg = who ? ['--with', who] : [];
        const cli = await runOis(['chat', '--since', '30d', '--grep', q, ...withArg, '--json'], {
          cwd: fx.dir,
        });
        expect(cli.code).toBe(0);
        const fromCli = JSON.parse(cli.stdout).entries.map((e: { id: string }) => e.id);
        const params = new URLSearchParams({ q, since: '30d', limit: '500', ...(who ? { with: who } : {}) });
        const viewer = (await fx.app.inject({ url: `/api/chat/search?${params}` })).json();
        expect({ q, who, ids: viewer.entries.map((e: { id: string }) => e.id) }).toEqual({
          q,
          who,
          ids: fromCli,
        });
        expect(viewer.total).toBe(fromCli.length);
      }
    }
    // The two agree on something: the queries find entries, and names alone find nothing.
    const found = (await fx.app.inject({ url: '/api/chat/search?q=deploy&since=30d' })).json();
    expect(found.entries.map((e: { body: string }) => e.body)).toEqual([
      '[PENDING] deploy at noon',
      '  ## 10:00 - deploy in a heading',
      '# Deploy plan\n---\nthe deploy is at noon',
      'DEPLOY done → beta · delivered',
    ]);
    expect((await fx.app.inject({ url: '/api/chat/search?q=kelvin' })).json().total).toBe(1);
    expect((await fx.app.inject({ url: '/api/chat/search?q=01JTEST' })).json().total).toBe(0);
  });

  it('viewer - the live feed sends an entry another OS process appends', async () => {
    fx = await viewerFixture({}, true);
    const { port } = fx.app.server.address() as { port: number };
    const received = new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/api/events' }, (res) => {
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        expect(res.headers['content-security-policy']).toBe(SECURITY_HEADERS['content-security-policy']);
        let data = '';
        let started = false;
        res.setEncoding('utf8').on('data', (chunk: string) => {
          data += chunk;
          if (!started) {
            started = true;
            // The stream is open: now another process writes.
            runNode([APPEND_WORKER, fx!.dir, 'gamma', '1', todayUtc()]).then((r) => {
              if (r.code !== 0) reject(new Error(r.stderr));
            }, reject);
          }
          if (data.includes('event: entry')) {
            req.destroy();
            resolve(data);
          }
        });
      });
      req.on('error', (err) => {
        if (!(err as NodeJS.ErrnoException).message.includes('aborted')) reject(err);
      });
      req.end();
    });
    const data = await Promise.race([
      received,
      new Promise<string>((_, reject) => setTimeout(() => reject(new Error('no entry in 8 s')), 8000)),
    ]);
    const lines = data.split('\n');
    const line = lines[lines.indexOf('event: entry') + 1]!;
    const e = JSON.parse(line.slice(6));
    expect(e).toMatchObject({ id: 'gamma-0000', from: 'gamma', to: ['everyone'], outcome: 'delivered' });
    expect(e.body).toContain('gamma #0000');
  });
});

describe('viewer - notices', () => {
  it('viewer - lists the team’s and this daemon’s notices, hides muted types, counts and marks unread', async () => {
    fx = await viewerFixture();
    await appendEntry(fx.store, {
      id: '01JNOTICE00000000000000001',
      at: new Date(Date.now() - 1000).toISOString(),
      from: 'alpha',
      to: ['beta'],
      kind: 'notice',
      notice: { type: 'approved', subject: 'beta' },
      body: 'alpha approved beta: beta is now a member of the team.',
      deliveries: [{ to: 'beta', outcome: 'delivered' }],
    });
    await recordLocalNotice(fx.home, {
      type: 'peer_online',
      subject: 'beta',
      by: 'alpha',
      body: 'beta is back online.',
    });
    await recordLocalNotice(fx.home, {
      type: 'peer_offline',
      subject: 'gamma',
      by: 'alpha',
      body: 'gamma is offline.',
    });
    const list = await fx.app.inject({ method: 'GET', url: '/api/notices' });
    expect(list.statusCode).toBe(200);
    const body = list.json();
    // peer_online is muted in the fixture: not listed, not counted.
    expect(body.notices.map((n: { type: string }) => n.type)).toEqual(['approved', 'peer_offline']);
    expect(body.unread).toBe(2);
    const all = (await fx.app.inject({ method: 'GET', url: '/api/notices?all=1' })).json();
    expect(all.notices.map((n: { type: string }) => n.type)).toContain('peer_online');
    // Marking needs the CSRF header like every write, and a time.
    const noHeader = await fx.app.inject({
      method: 'POST',
      url: '/api/notices/read',
      payload: { until: body.notices[1].at },
    });
    expect(noHeader.statusCode).toBe(403);
    const bad = await fx.app.inject({
      method: 'POST',
      url: '/api/notices/read',
      headers: { 'x-ois-viewer': '1' },
      payload: { until: 'yesterday' },
    });
    expect(bad.statusCode).toBe(400);
    const read = await fx.app.inject({
      method: 'POST',
      url: '/api/notices/read',
      headers: { 'x-ois-viewer': '1' },
      payload: { until: body.notices[0].at },
    });
    expect(read.json()).toEqual({ unread: 1 });
  });
});

describe('viewer - security', () => {
  const TOKEN = 'viewer-token-0123456789abcdef';
  const PROTECTED: [string, string][] = [
    ['GET', '/'],
    ['GET', '/assets/viewer.js'],
    ['GET', '/api/me'],
    ['GET', '/api/chat/days'],
    ['GET', '/api/chat/day/2026-11-21'],
    ['GET', '/api/chat/search?q=x'],
    ['GET', '/api/events'],
    ['GET', '/api/agents'],
    ['GET', '/api/shared'],
    ['GET', '/api/shared/plan.md'],
    ['PUT', '/api/shared/plan.md'],
    ['DELETE', '/api/shared/plan.md'],
    ['GET', '/api/outbox'],
    ['POST', '/api/outbox/01JQUEUED0000000000000000A/retry'],
    ['POST', '/api/outbox/01JQUEUED0000000000000000A/drop'],
    ['POST', '/api/send'],
  ];

  it('viewer - off loopback, nothing but the login page is served without the token', async () => {
    fx = await viewerFixture({ auth: { required: true, token: TOKEN } });
    await writeFile(join(fx.dir, 'secret.txt'), 'x');
    for (const [method, url] of PROTECTED) {
      const res = await fx.app.inject({
        method: method as 'GET',
        url,
        headers: { ...CSRF, host: '10.147.17.5:18790', 'content-type': 'application/json' },
        payload: method === 'GET' ? undefined : '{"to":"all","body":"x"}',
      });
      if (url === '/') {
        expect(res.statusCode).toBe(303);
        expect(res.headers.location).toBe('/login');
      } else expect([method, url, res.statusCode]).toEqual([method, url, 401]);
      expect(res.body).not.toContain('renderMarkdown');
      expect(res.headers['content-security-policy']).toBeDefined();
    }
    expect(fx.sent).toEqual([]);
    expect(fx.outbox).toHaveLength(2);
    const login = await fx.app.inject({ url: '/login' });
    expect(login.statusCode).toBe(200);
    expect(login.body).toContain('name="token"');
    expect(login.body).not.toContain('<script');
  });

  it('viewer - a bearer token or the login cookie opens it', async () => {
    fx = await viewerFixture({ auth: { required: true, token: TOKEN } });
    const bearer = await fx.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bearer.statusCode).toBe(200);
    expect(bearer.json()).toEqual({ name: 'alpha', auth: true });
    expect(
      (await fx.app.inject({ url: '/api/me', headers: { authorization: 'Bearer wrong' } })).statusCode,
    ).toBe(401);

    const wrong = await fx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'token=nope',
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();

    const ok = await fx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `token=${encodeURIComponent(TOKEN)}`,
    });
    expect(ok.statusCode).toBe(303);
    const cookie = String(ok.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    // The cookie is derived from the token, not the token itself.
    expect(cookie).not.toContain(TOKEN);
    const pair = cookie.split(';')[0]!;
    const page = await fx.app.inject({ url: '/', headers: { cookie: pair } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('/assets/viewer.js');
    expect((await fx.app.inject({ url: '/api/agents', headers: { cookie: pair } })).statusCode).toBe(200);
    expect(
      (await fx.app.inject({ url: '/api/agents', headers: { cookie: 'ois_viewer=forged' } })).statusCode,
    ).toBe(401);
  });

  it('viewer - too many wrong logins are slowed down', async () => {
    fx = await viewerFixture({ auth: { required: true, token: TOKEN } });
    const attempt = (token: string) =>
      fx!.app.inject({
        method: 'POST',
        url: '/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `token=${token}`,
      });
    for (let i = 0; i < 10; i++) expect((await attempt('bad')).statusCode).toBe(401);
    expect((await attempt(TOKEN)).statusCode).toBe(429);
  });

  it('viewer - every answer carries a strict CSP and secure headers; the script is a file', async () => {
    fx = await viewerFixture();
    for (const url of [
      '/',
      '/assets/viewer.js',
      '/assets/viewer.css',
      '/api/chat/days',
      '/api/shared/a%00b',
    ]) {
      const res = await fx.app.inject({ url });
      for (const [name, value] of Object.entries(SECURITY_HEADERS))
        expect([url, res.headers[name]]).toEqual([url, value]);
    }
    const csp = SECURITY_HEADERS['content-security-policy']!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    const page = await fx.app.inject({ url: '/' });
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).not.toMatch(/<script>|<script(?![^>]*\ssrc=)[^>]*>/);
    expect(page.body).not.toMatch(/\son[a-z]+=/);
    expect(page.body).not.toMatch(/style=/);
    const js = await fx.app.inject({ url: '/assets/viewer.js' });
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.body).toContain('const renderMarkdown =');
    // The script must parse.
    expect(() => new Function(js.body)).not.toThrow();
  });

  it('viewer - on loopback it refuses other Host names (DNS rebinding) and cross-site writes', async () => {
    fx = await viewerFixture();
    expect((await fx.app.inject({ url: '/api/me', headers: { host: 'evil.example:8080' } })).statusCode).toBe(
      403,
    );
    expect((await fx.app.inject({ url: '/api/me', headers: { host: '127.0.0.1:18790' } })).statusCode).toBe(
      200,
    );
    const noHeader = await fx.app.inject({
      method: 'POST',
      url: '/api/send',
      headers: { 'content-type': 'application/json' },
      payload: { to: ['beta'], body: 'hi' },
    });
    expect(noHeader.statusCode).toBe(403);
    const crossSite = await fx.app.inject({
      method: 'POST',
      url: '/api/send',
      headers: { ...CSRF, 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
      payload: { to: ['beta'], body: 'hi' },
    });
    expect(crossSite.statusCode).toBe(403);
    expect(fx.sent).toEqual([]);
  });
});

describe('viewer - agents, outbox, compose', () => {
  it('viewer - lists agents with delivery mode, ZeroTier address and presence', async () => {
    fx = await viewerFixture();
    const { agents, self } = (await fx.app.inject({ url: '/api/agents' })).json();
    expect(self).toBe('alpha');
    expect(agents).toEqual([
      expect.objectContaining({
        name: 'alpha',
        role: 'admin',
        self: true,
        delivery: 'federated',
        zerotier: '10.147.17.5',
        capabilities: ['research', 'web'],
      }),
      expect.objectContaining({
        name: 'beta',
        role: 'member',
        status: 'active',
        self: false,
        delivery: 'direct',
        zerotier: null,
        presence: 'down',
        lastSeen: '2026-11-21T09:00:00.000Z',
      }),
    ]);
  });

  it('viewer - lists, retries and drops outbox messages', async () => {
    fx = await viewerFixture();
    const list = (await fx.app.inject({ url: '/api/outbox' })).json();
    expect(list.queued.map((m: { id: string }) => m.id)).toEqual(['01JQUEUED0000000000000000A']);
    expect(list.dead.map((m: { id: string }) => m.id)).toEqual(['01JDEAD00000000000000000B']);
    expect(list.queued[0].preview).toBe('hello 01JQUEUED0000000000000000A');
    expect(list.queued[0].payload).toBeUndefined();
    const retry = await fx.app.inject({
      method: 'POST',
      url: '/api/outbox/01JDEAD00000000000000000B/retry',
      headers: CSRF,
    });
    expect(retry.json().message.state).toBe('queued');
    const drop = await fx.app.inject({
      method: 'POST',
      url: '/api/outbox/01JQUEUED0000000000000000A/drop',
      headers: CSRF,
    });
    expect(drop.statusCode).toBe(200);
    expect(fx.outbox.map((m) => m.id)).toEqual(['01JDEAD00000000000000000B']);
    const missing = await fx.app.inject({ method: 'POST', url: '/api/outbox/NOPE/drop', headers: CSRF });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('OIS_ERR_OUTBOX_NOT_FOUND');
  });

  it('viewer - compose sends through opts.send and validates its input', async () => {
    fx = await viewerFixture();
    const ok = await fx.app.inject({
      method: 'POST',
      url: '/api/send',
      headers: CSRF,
      payload: { to: ['beta'], body: 'hi **there**' },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ ok: true, result: { deliveries: [{ to: 'beta', outcome: 'delivered' }] } });
    const all = await fx.app.inject({
      method: 'POST',
      url: '/api/send',
      headers: CSRF,
      payload: { to: 'all', body: 'x' },
    });
    expect(all.statusCode).toBe(200);
    for (const payload of [
      { to: [], body: 'x' },
      { to: 'some', body: 'x' },
      { to: ['beta'], body: '' },
      { to: ['beta'] },
    ]) {
      const bad = await fx.app.inject({ method: 'POST', url: '/api/send', headers: CSRF, payload });
      expect(bad.statusCode).toBe(400);
    }
    expect(fx.sent).toEqual([
      { to: ['beta'], body: 'hi **there**' },
      { to: 'all', body: 'x' },
    ]);
  });
  it('viewer - bad input gets the same answer, code and words, route by route', async () => {
    fx = await viewerFixture();
    const usage = (message: string, hint?: string) => ({
      code: 'OIS_ERR_USAGE',
      message,
      ...(hint === undefined ? {} : { hint }),
    });
    const noTo = usage('"to" must be "all" or a list of agent names');
    const empty = { code: 'OIS_ERR_MESSAGE_EMPTY', message: 'no message given' };
    const noUntil = usage('"until" must be an ISO-8601 UTC time');
    const post = (url: string, payload?: unknown) => ({
      method: 'POST' as const,
      url,
      headers: CSRF,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    const cases: [InjectOptions, number, unknown][] = [
      [
        { url: '/api/chat/day/2026-13-40' },
        400,
        usage('not a date: "2026-13-40"', 'write the date as YYYY-MM-DD, e.g. 2026-11-21'),
      ],
      [{ url: '/api/chat/day/2026-11-21?cursor=-1' }, 400, usage('not a cursor: "-1"')],
      [{ url: '/api/chat/day/2026-11-21?cursor=x' }, 400, usage('not a cursor: "x"')],
      [{ url: '/api/chat/day/2026-11-21?limit=0' }, 400, usage('not a page size: 0')],
      [{ url: '/api/chat/search?limit=abc' }, 400, usage('not a page size: abc')],
      [
        { url: '/api/chat/search?since=yesterday-ish' },
        400,
        usage('not a time: "yesterday-ish"', 'give a duration such as 3d, or a date such as 2026-11-21'),
      ],
      [post('/api/send', { to: [], body: 'x' }), 400, noTo],
      [post('/api/send', { to: 'some', body: 'x' }), 400, noTo],
      [post('/api/send', { to: 'some' }), 400, noTo],
      [post('/api/send', { to: [' '], body: 'x' }), 400, noTo],
      [post('/api/send', { to: ['beta', 5], body: 'x' }), 400, noTo],
      [post('/api/send', { body: 'x' }), 400, noTo],
      [post('/api/send'), 400, noTo],
      [
        { ...post('/api/send'), headers: { ...CSRF, 'content-type': 'application/json' }, payload: '[]' },
        400,
        noTo,
      ],
      [post('/api/send', { to: ['beta'], body: '' }), 400, empty],
      [post('/api/send', { to: ['beta'], body: ' \n ' }), 400, empty],
      [post('/api/send', { to: ['beta'] }), 400, empty],
      [post('/api/send', { to: ['beta'], body: 5 }), 400, empty],
      [post('/api/notices/read', { until: 'yesterday' }), 400, noUntil],
      [post('/api/notices/read', { until: 5 }), 400, noUntil],
      [post('/api/notices/read', { until: '2026-11-21T10:00:00+01:00' }), 400, noUntil],
      [post('/api/notices/read', {}), 400, noUntil],
      [
        post('/api/outbox/NOPE/retry'),
        404,
        { code: 'OIS_ERR_OUTBOX_NOT_FOUND', message: 'no message NOPE in the outbox' },
      ],
      [{ url: '/api/shared/nope.txt' }, 404, usage('no shared file nope.txt')],
      [
        {
          method: 'PUT',
          url: '/api/shared/a.txt',
          headers: { ...CSRF, 'content-type': 'application/json' },
          payload: '{}',
        },
        400,
        usage('send the file as the raw body, Content-Type: application/octet-stream'),
      ],
    ];
    for (const [request, status, answer] of cases) {
      const res = await fx.app.inject(request);
      expect([request, res.statusCode, res.json()]).toEqual([request, status, answer]);
    }
    expect(fx.sent).toEqual([]);
  });
  it("viewer - the route schemas refuse a parameter given twice, with the schema's words", async () => {
    fx = await viewerFixture();
    const cases: [InjectOptions, string][] = [
      // The handler would have read this as the page size "1,2", and the next one not at all.
      [{ url: '/api/chat/day/2026-11-21?limit=1&limit=2' }, 'querystring/limit must be string'],
      [{ url: '/api/chat/day/2026-11-21?with=a&with=b' }, 'querystring/with must be string'],
      [{ url: '/api/chat/search?q=a&q=b' }, 'querystring/q must be string'],
      [{ url: '/api/events?with=a&with=b' }, 'querystring/with must be string'],
      [{ url: '/api/notices?all=1&all=1' }, 'querystring/all must be string'],
      [
        {
          method: 'PUT',
          url: '/api/shared/plan.md?overwrite=1&overwrite=0',
          headers: { ...CSRF, 'content-type': 'application/octet-stream' },
          payload: Buffer.from('x'),
        },
        'querystring/overwrite must be string',
      ],
    ];
    for (const [request, message] of cases) {
      const res = await fx.app.inject(request);
      expect([request.url, res.statusCode, res.json()]).toEqual([
        request.url,
        400,
        { code: 'OIS_ERR_USAGE', message },
      ]);
    }
    expect((await fx.app.inject({ url: '/api/shared' })).json().files).toEqual([]);
  });
});

describe('viewer - safe Markdown', () => {
  it('viewer - escapes every tag and attribute of a body', () => {
    const evil = [
      '<script>alert(1)</script>',
      '<img src=x onerror=alert(1)>',
      '"><svg onload=alert(1)>',
      '<a href="javascript:alert(1)">x</a>',
      '**<b>bold</b>**',
      '`<i>code</i>`',
      '```\n<script>fenced</script>\n```',
      '[click](javascript:alert(1))',
      '[click](https://x.example/"onmouseover="alert(1))',
      '[x](data:text/html,<script>alert(1)</script>)',
    ];
    for (const text of evil) {
      const html = renderMarkdown(text);
      // Only our own tags survive.
      const tags = html.match(/<\/?([a-z]+)/g) ?? [];
      for (const tag of tags)
        expect([
          '<p',
          '</p',
          '<br',
          '<code',
          '</code',
          '<pre',
          '</pre',
          '<strong',
          '</strong',
          '<em',
          '</em',
          '<a',
          '</a',
        ]).toContain(tag);
      expect(html).not.toMatch(/<(script|img|svg|i|b)[\s>]/);
      expect(html).not.toMatch(/href="(?!https?:)/);
      expect(html).not.toMatch(/\son[a-z]+="/);
    }
  });

  it('viewer - renders the small subset', () => {
    expect(renderMarkdown('**bold** and *it*')).toBe('<p><strong>bold</strong> and <em>it</em></p>');
    expect(renderMarkdown('a\nb\n\nc')).toBe('<p>a<br>b</p><p>c</p>');
    expect(renderMarkdown('run `ls *.md` now')).toBe('<p>run <code>ls *.md</code> now</p>');
    expect(renderMarkdown('before\n```ts\nconst a = 1 < 2;\n```\nafter')).toBe(
      '<p>before</p><pre><code>const a = 1 &lt; 2;</code></pre><p>after</p>',
    );
    expect(renderMarkdown('see [docs](https://example.com/a?b=1&c=2)')).toBe(
      '<p>see <a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer" target="_blank">docs</a></p>',
    );
    expect(renderMarkdown('[x](ftp://example.com)')).toBe('<p>[x](ftp://example.com)</p>');
  });

  it('viewer - a code span inside a link label renders as code, never as the placeholder', () => {
    const link = (label: string) =>
      `<a href="https://example.com" rel="noopener noreferrer" target="_blank">${label}</a>`;
    expect(renderMarkdown('[see `x`](https://example.com)')).toBe(`<p>${link('see <code>x</code>')}</p>`);
    expect(renderMarkdown('[`a` and `b`](https://example.com) `c`')).toBe(
      `<p>${link('<code>a</code> and <code>b</code>')} <code>c</code></p>`,
    );
    // Code in the target is not a link target: the text stays as it is.
    expect(renderMarkdown('[x](https://example.com/`y`)')).toBe(
      '<p>[x](https://example.com/<code>y</code>)</p>',
    );
    for (const text of [
      '[see `x`](https://example.com)',
      '[**`b`**](https://e.x) *`i`*',
      '[`1`](https://e.x/`2`)',
    ])
      expect(renderMarkdown(text)).not.toContain('\uE000');
  });
});

describe('viewer - shared files API', () => {
  it('viewer - uploads, lists, downloads and deletes; refuses a silent overwrite', async () => {
    fx = await viewerFixture();
    const put = (name: string, body: string, query = '') =>
      fx!.app.inject({
        method: 'PUT',
        url: `/api/shared/${name}${query}`,
        headers: { ...CSRF, 'content-type': 'application/octet-stream' },
        payload: Buffer.from(body),
      });
    const created = await put('plan%20v2.md', '# Plan');
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ name: 'plan v2.md', size: 6, uploader: 'alpha' });
    expect((await put('plan%20v2.md', 'other')).statusCode).toBe(409);
    const replaced = await put('plan%20v2.md', '# Plan 2', '?overwrite=1');
    expect(replaced.statusCode).toBe(201);
    const list = (await fx.app.inject({ url: '/api/shared' })).json();
    expect(list.files.map((f: { name: string }) => f.name)).toEqual(['plan v2.md']);
    const get = await fx.app.inject({ url: '/api/shared/plan%20v2.md' });
    expect(get.statusCode).toBe(200);
    expect(get.body).toBe('# Plan 2');
    expect(get.headers['content-disposition']).toBe("attachment; filename*=UTF-8''plan%20v2.md");
    expect(get.headers['content-type']).toBe('application/octet-stream');
    expect(
      (await fx.app.inject({ method: 'DELETE', url: '/api/shared/plan%20v2.md', headers: CSRF })).statusCode,
    ).toBe(200);
    expect((await fx.app.inject({ url: '/api/shared/plan%20v2.md' })).statusCode).toBe(404);
    expect(
      (await fx.app.inject({ method: 'DELETE', url: '/api/shared/plan%20v2.md', headers: CSRF })).statusCode,
    ).toBe(404);
  });

  it("viewer - a refused upload answers the refusal's own code with its status", async () => {
    fx = await viewerFixture();
    const put = (name: string) =>
      fx!.app.inject({
        method: 'PUT',
        url: `/api/shared/${name}`,
        headers: { ...CSRF, 'content-type': 'application/octet-stream' },
        payload: Buffer.from('x'),
      });
    expect((await put('plan.md')).statusCode).toBe(201);
    const again = await put('plan.md');
    expect([again.statusCode, again.json()]).toEqual([
      409,
      {
        code: 'OIS_ERR_SHARED_EXISTS',
        message: 'shared/plan.md exists already',
        hint: 'pick another name, or replace it on purpose (--force, ?overwrite=1)',
      },
    ]);
    const bad = await put('.hidden');
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'OIS_ERR_SHARED_NAME_INVALID']);
    await symlink('/etc/passwd', join(fx.dir, 'shared', 'passwd'));
    const link = await fx.app.inject({ url: '/api/shared/passwd' });
    expect([link.statusCode, link.json().code]).toEqual([400, 'OIS_ERR_SHARED_NOT_A_FILE']);
  });

  it('viewer - refuses traversal, symlinks out of shared/ and NUL', async () => {
    fx = await viewerFixture();
    await mkdir(join(fx.dir, 'shared'), { recursive: true });
    await writeFile(join(fx.dir, 'AGENTS.secret'), 'outside');
    await symlink(join(fx.dir, 'AGENTS.secret'), join(fx.dir, 'shared', 'link.txt'));
    await symlink('/etc', join(fx.dir, 'shared', 'etc'));
    const names = [
      '..',
      '%2E%2E',
      '..%2F..%2FAGENTS.md',
      '%2Fetc%2Fpasswd',
      '%2F..%2F',
      'a%00b',
      'a%252Fb',
      'etc%2Fpasswd',
      '.ois-meta',
      '%5C..%5Cx',
    ];
    for (const name of names) {
      for (const method of ['GET', 'PUT', 'DELETE'] as const) {
        const res = await fx.app.inject({
          method,
          url: `/api/shared/${name}`,
          headers: { ...CSRF, 'content-type': 'application/octet-stream' },
          payload: method === 'PUT' ? Buffer.from('x') : undefined,
        });
        expect([name, method, res.statusCode >= 400 && res.statusCode < 500]).toEqual([name, method, true]);
        expect(res.body).not.toContain('root:');
      }
    }
    // Raw traversal in the path is normalised away by the router or refused; never served.
    for (const url of ['/api/shared/../../AGENTS.md', '/api/shared/%2e%2e/AGENTS.md']) {
      const res = await fx.app.inject({ url });
      expect(res.body).not.toContain('ois-agent');
    }
    const link = await fx.app.inject({ url: '/api/shared/link.txt' });
    expect(link.statusCode).toBe(400);
    expect(link.body).not.toContain('outside');
    const overLink = await fx.app.inject({
      method: 'PUT',
      url: '/api/shared/link.txt?overwrite=1',
      headers: { ...CSRF, 'content-type': 'application/octet-stream' },
      payload: Buffer.from('x'),
    });
    expect(overLink.statusCode).toBe(400);
    expect(
      (await fx.app.inject({ method: 'DELETE', url: '/api/shared/link.txt', headers: CSRF })).statusCode,
    ).toBe(400);
    const listed = (await fx.app.inject({ url: '/api/shared' })).json();
    expect(listed.files).toEqual([]);
  });

  it('viewer - refuses an upload over the size limit', async () => {
    fx = await viewerFixture({ sharedMaxBytes: 1024 });
    const res = await fx.app.inject({
      method: 'PUT',
      url: '/api/shared/big.bin',
      headers: { ...CSRF, 'content-type': 'application/octet-stream' },
      payload: Buffer.alloc(2048),
    });
    expect(res.statusCode).toBe(413);
    expect((await fx.app.inject({ url: '/api/shared' })).json().files).toEqual([]);
    const json = await fx.app.inject({
      method: 'PUT',
      url: '/api/shared/a.json',
      headers: { ...CSRF, 'content-type': 'application/json' },
      payload: '{}',
    });
    expect([400, 415]).toContain(json.statusCode);
  });
});

describe('viewer - errors say what to fix', () => {
  it('viewer - a broken AGENTS.md answers the code, file, line and hint the CLI shows, not "internal error"', async () => {
    fx = await viewerFixture();
    await writeFile(
      join(fx.dir, 'AGENTS.md'),
      '# Team\n\n## beta (member)\n\n```yaml ois-agent\nname: beta\nrole: [member\nstatus: active\n```\n',
    );
    const res = await fx.app.inject({ url: '/api/agents' });
    expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
    const body = res.json();
    expect(body.code).toMatch(/^OIS_ERR_REGISTRY_(PARSE|INVALID)$/);
    expect(body.message).toContain('AGENTS.md');
    expect(body.message).toMatch(/AGENTS\.md:\d+/);
    expect(body.message).not.toBe('internal error');
    expect(typeof body.hint).toBe('string');
  });
});
