import { request as httpRequest } from 'node:http';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { appendEntry } from '../src/chatlog/index.js';
import { validatorsOnFirstUse } from '../src/server/index.js';
import { SECURITY_HEADERS, viewerPlugin } from '../src/server/viewer/plugin.js';
import { todayUtc, type ViewerFixture, viewerAppFixture, viewerSetup } from './e2e/viewer-fixture.js';

/**
 * The viewer inside the daemon's own app (buildApp: its validator options, its body parsers and error
 * handler, the federation routes beside it), as `ois serve` runs it. tests/viewer-api.test.ts covers each
 * route in depth on a bare fastify; this shows they work, and stay scoped, in the real app.
 */

const CSRF = { 'x-ois-viewer': '1' };

let fx: ViewerFixture | null = null;
afterEach(async () => {
  await fx?.close();
  fx = null;
});

describe('viewer - inside the daemon app', () => {
  it('viewer - serves the page and its script with the security headers', async () => {
    fx = await viewerAppFixture();
    const page = await fx.app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('/assets/viewer.js');
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(page.headers[name]).toBe(value);
    const js = await fx.app.inject({ url: '/assets/viewer.js' });
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.body).toContain('const renderMarkdown =');
  });

  it('viewer - every schema of its routes compiles with the daemon app validator, which compiles on first use', async () => {
    const { options } = await viewerSetup();
    const app = Fastify({ logger: false });
    const compile = validatorsOnFirstUse();
    const made: { route: string; validate: ReturnType<typeof compile> }[] = [];
    app.setValidatorCompiler((route) => {
      const validate = compile(route);
      made.push({ route: `${route.method} ${route.url} ${route.httpPart}`, validate });
      return validate;
    });
    await app.register(viewerPlugin, options);
    await app.ready();
    try {
      expect(made.length).toBeGreaterThan(10);
      for (const { route, validate } of made) expect(() => validate({}), route).not.toThrow();
    } finally {
      await app.close();
    }
  });

  it('viewer - reads the chat log and the agents through the API', async () => {
    fx = await viewerAppFixture();
    const date = todayUtc();
    await appendEntry(fx.store, {
      id: '01JAPP00000000000000000001',
      at: `${date}T10:00:00.000Z`,
      from: 'alpha',
      to: ['beta'],
      kind: 'message',
      body: 'hello from the daemon app',
      deliveries: [{ to: 'beta', outcome: 'delivered', seconds: 0.2 }],
    });
    expect((await fx.app.inject({ url: '/api/chat/days' })).json()).toEqual({ days: [date] });
    const day = await fx.app.inject({ url: `/api/chat/day/${date}?limit=10&cursor=0` });
    expect(day.statusCode).toBe(200);
    expect(day.json()).toMatchObject({
      date,
      total: 1,
      next: null,
      entries: [
        { id: '01JAPP00000000000000000001', body: 'hello from the daemon app', outcome: 'delivered' },
      ],
    });
    const agents = (await fx.app.inject({ url: '/api/agents' })).json();
    expect(agents.self).toBe('alpha');
    expect(agents.agents.map((a: { name: string }) => a.name)).toEqual(['alpha', 'beta']);
  });

  it('viewer - a write needs the CSRF header; with it, compose and an upload go through', async () => {
    fx = await viewerAppFixture();
    const send = (headers: Record<string, string>) =>
      fx!.app.inject({ method: 'POST', url: '/api/send', headers, payload: { to: ['beta'], body: 'hi' } });
    const refused = await send({});
    expect([refused.statusCode, refused.json().code]).toEqual([403, 'OIS_ERR_USAGE']);
    expect(fx.sent).toEqual([]);
    const ok = await send(CSRF);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ ok: true, result: { deliveries: [{ to: 'beta', outcome: 'delivered' }] } });
    expect(fx.sent).toEqual([{ to: ['beta'], body: 'hi' }]);

    // The raw-body upload: the viewer's own parser, inside an app that parses JSON only.
    const put = () =>
      fx!.app.inject({
        method: 'PUT',
        url: '/api/shared/plan.md',
        headers: { ...CSRF, 'content-type': 'application/octet-stream' },
        payload: Buffer.from('# Plan'),
      });
    const created = await put();
    expect([created.statusCode, created.json().name]).toEqual([201, 'plan.md']);
    const again = await put();
    expect([again.statusCode, again.json().code]).toEqual([409, 'OIS_ERR_SHARED_EXISTS']);
  });

  it('viewer - refuses a Host that is not loopback (DNS rebinding)', async () => {
    fx = await viewerAppFixture();
    const evil = await fx.app.inject({ url: '/api/me', headers: { host: 'evil.example:18800' } });
    expect([evil.statusCode, evil.json()]).toEqual([
      403,
      { code: 'OIS_ERR_USAGE', message: 'open the viewer on localhost' },
    ]);
    const page = await fx.app.inject({ url: '/', headers: { host: 'rebound.example' } });
    expect(page.statusCode).toBe(403);
    expect(page.body).not.toContain('/assets/viewer.js');
    const local = await fx.app.inject({ url: '/api/me', headers: { host: 'localhost:18800' } });
    expect([local.statusCode, local.json()]).toEqual([200, { name: 'alpha', auth: false }]);
  });

  it("viewer - bad input is refused by the route schemas under the app's validator options", async () => {
    fx = await viewerAppFixture();
    const twice = await fx.app.inject({ url: `/api/chat/day/${todayUtc()}?limit=1&limit=2` });
    expect([twice.statusCode, twice.json()]).toEqual([
      400,
      { code: 'OIS_ERR_USAGE', message: 'querystring/limit must be string' },
    ]);
    for (const payload of [{ to: 'some', body: 'x' }, { to: ['beta', 5], body: 'x' }, { body: 'x' }]) {
      const res = await fx.app.inject({ method: 'POST', url: '/api/send', headers: CSRF, payload });
      expect([payload, res.statusCode, res.json()]).toEqual([
        payload,
        400,
        { code: 'OIS_ERR_USAGE', message: '"to" must be "all" or a list of agent names' },
      ]);
    }
    // No coercion: a number is not a message.
    const number = await fx.app.inject({
      method: 'POST',
      url: '/api/send',
      headers: CSRF,
      payload: { to: ['beta'], body: 5 },
    });
    expect([number.statusCode, number.json().code]).toEqual([400, 'OIS_ERR_MESSAGE_EMPTY']);
    const until = await fx.app.inject({
      method: 'POST',
      url: '/api/notices/read',
      headers: CSRF,
      payload: { until: 1_700_000_000_000 },
    });
    expect([until.statusCode, until.json().code]).toEqual([400, 'OIS_ERR_USAGE']);
    expect(fx.sent).toEqual([]);
  });

  it('viewer - its guard, parsers and errors stay in its routes: the federation API answers as it did', async () => {
    fx = await viewerAppFixture();
    const health = await fx.app.inject({ url: '/healthz', headers: { host: 'evil.example' } });
    expect([health.statusCode, health.json()]).toEqual([200, { ok: true }]);
    expect(health.headers['content-security-policy']).toBeUndefined();
    // A form post to the inbound API: the viewer's form parser does not reach it, nor its CSRF check.
    const form = await fx.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'to=beta',
    });
    expect([form.statusCode, form.json().code]).toEqual([415, 'OIS_ERR_UNSUPPORTED_MEDIA_TYPE']);
    const envelope = await fx.app.inject({ method: 'POST', url: '/v1/messages', payload: { v: 1 } });
    expect([envelope.statusCode, envelope.json().code]).toEqual([400, 'OIS_ERR_ENVELOPE_INVALID']);
  });

  it('viewer - the live feed streams over a real socket of the daemon app', async () => {
    fx = await viewerAppFixture({}, true);
    const { port } = fx.app.server.address() as { port: number };
    const first = await new Promise<{ type: string | undefined; csp: string | undefined; data: string }>(
      (resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/api/events' }, (res) => {
          res.setEncoding('utf8').once('data', (data: string) => {
            resolve({
              type: res.headers['content-type'],
              csp: res.headers['content-security-policy'] as string | undefined,
              data,
            });
            req.destroy();
          });
        });
        req.on('error', (err) => {
          if (!err.message.includes('aborted') && !err.message.includes('socket hang up')) reject(err);
        });
        req.end();
      },
    );
    expect(first.type).toMatch(/^text\/event-stream/);
    expect(first.csp).toBe(SECURITY_HEADERS['content-security-policy']);
    expect(first.data).toContain('retry: 2000');
  });
});
