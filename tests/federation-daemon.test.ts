import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { OisError } from '../src/errors.js';
import {
  DEFAULT_SEEN_WINDOW_MS,
  type Envelope,
  newMessageId,
  parseHeader,
  SeenStore,
  signEnvelope,
} from '../src/federation/index.js';
import { parseRegistry } from '../src/registry/index.js';
import { federationRoutes } from '../src/server/federation-route.js';
import { buildApp } from '../src/server/index.js';
import { memberBlock } from './helpers/members.js';

interface Harness {
  app: FastifyInstance;
  delivered: string[];
  keys: Record<string, KeyObject>;
  envelope(from: string, body?: string, overrides?: Partial<Envelope>): Envelope;
  post(
    payload: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; json: Record<string, unknown>; headers: Record<string, unknown> }>;
  failNext: { error: OisError | null };
}

const apps: FastifyInstance[] = [];
const stores: SeenStore[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  for (const s of stores.splice(0)) s.close();
});

/** beta's daemon, with alpha (active), mallory (disabled) and gamma (no key) in the registry. */
async function harness(
  options: { rateLimit?: number; now?: () => number; lenientHost?: boolean } = {},
): Promise<Harness> {
  const home = await mkdtemp(join(tmpdir(), 'ois-daemon-'));
  const keys = {
    alpha: generateKeyPairSync('ed25519').privateKey,
    mallory: generateKeyPairSync('ed25519').privateKey,
    eve: generateKeyPairSync('ed25519').privateKey,
  };
  const registry = parseRegistry(
    [
      '# Team\n',
      memberBlock('alpha', 'active', keys.alpha),
      memberBlock('mallory', 'disabled', keys.mallory),
      memberBlock('gamma', 'active'),
      memberBlock('eve', 'active', keys.eve),
      memberBlock('beta', 'active'),
    ].join('\n'),
  );
  const config = loadConfig({
    env: { OIS_HOME: home, OIS_NAME: 'beta', OIS_SERVE_RATE_LIMIT: String(options.rateLimit ?? 60) },
    cwd: home,
  }) as ReturnType<typeof loadConfig> & { name: string };
  const seen = new SeenStore(home);
  stores.push(seen);
  const delivered: string[] = [];
  const failNext: Harness['failNext'] = { error: null };
  const deps = {
    config,
    registry: async () => registry,
    seen,
    deliver: async (text: string) => {
      if (failNext.error) {
        const e = failNext.error;
        failNext.error = null;
        throw e;
      }
      delivered.push(text);
    },
    ...(options.now ? { now: options.now } : {}),
  };
  let app: FastifyInstance;
  if (options.lenientHost) {
    // The federation route inside an app whose validator coerces and strips: the route keeps its own.
    app = Fastify({
      ajv: { customOptions: { coerceTypes: true, removeAdditional: 'all', useDefaults: true } },
    });
    await app.register(rateLimit, { global: false });
    await app.register(federationRoutes, deps);
    await app.ready();
  } else app = await buildApp(deps);
  apps.push(app);
  const now = options.now ?? Date.now;
  return {
    app,
    delivered,
    keys,
    failNext,
    envelope(from, body = 'hello beta', overrides = {}) {
      const key = keys[from as keyof typeof keys] ?? keys.alpha;
      const e = signEnvelope(
        { v: 1, id: newMessageId(), from, to: 'beta', createdAt: new Date(now()).toISOString(), body },
        key,
      );
      return { ...e, ...overrides };
    },
    async post(payload, headers = { 'content-type': 'application/json' }) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers,
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });
      return { status: res.statusCode, json: res.json(), headers: res.headers };
    },
  };
}

describe('daemon - inbound federated messages', () => {
  it('daemon - the federation route validates with its own strict validator, whatever app hosts it', async () => {
    const h = await harness({ lenientHost: true });
    const extra = { ...h.envelope('alpha'), color: 'red' };
    expect((await h.post(extra)).status).toBe(400);
    const coercible = { ...h.envelope('alpha'), hops: '1' };
    expect((await h.post(coercible)).status).toBe(400);
    expect(h.delivered).toHaveLength(0);
    const good = await h.post(h.envelope('alpha', 'fine'));
    expect(good.status).toBe(202);
    expect(h.delivered).toHaveLength(1);
  });

  it('daemon - a signed envelope is delivered once, with the sender header', async () => {
    const h = await harness();
    const e = h.envelope('alpha', 'hello from alpha');
    expect(await h.post(e)).toMatchObject({ status: 202, json: { status: 'delivered', id: e.id } });
    expect(parseHeader(h.delivered[0]!)).toMatchObject({
      from: 'alpha',
      to: 'beta',
      id: e.id,
      body: 'hello from alpha',
    });
  });

  it('daemon - a replayed id is acknowledged without a second delivery', async () => {
    const h = await harness();
    const e = h.envelope('alpha');
    await h.post(e);
    expect(await h.post(e)).toMatchObject({ status: 200, json: { status: 'duplicate', id: e.id } });
    expect(h.delivered).toHaveLength(1);
  });

  it('daemon - a copy re-sent after an outage longer than the clock window arrives once (sentAt)', async () => {
    const h = await harness();
    const createdAt = new Date(Date.now() - 7 * 60_000).toISOString();
    const base = {
      v: 1 as const,
      id: newMessageId(Date.parse(createdAt)),
      from: 'alpha',
      to: 'beta',
      createdAt,
      body: 'queued',
    };
    // The copy signed when it was queued is stale now: that is what ois 0.1's outbox kept re-posting.
    expect((await h.post(signEnvelope(base, h.keys.alpha!))).json.code).toBe('OIS_ERR_ENVELOPE_STALE');
    const resent = signEnvelope({ ...base, sentAt: new Date().toISOString() }, h.keys.alpha!);
    expect(await h.post(resent)).toMatchObject({ status: 202, json: { status: 'delivered', id: base.id } });
    // The header shows when alpha wrote it, not when it was re-sent.
    expect(parseHeader(h.delivered[0]!)?.at.toISOString()).toBe(createdAt.replace(/\.\d{3}Z$/, '.000Z'));
    const again = signEnvelope({ ...base, sentAt: new Date(Date.now() + 1000).toISOString() }, h.keys.alpha!);
    expect(await h.post(again)).toMatchObject({ status: 200, json: { status: 'duplicate' } });
    expect(h.delivered).toHaveLength(1);
  });

  it('daemon - sentAt before createdAt, or a message older than the dedupe window, is refused', async () => {
    const h = await harness();
    const now = Date.now();
    const early = signEnvelope(
      {
        v: 1,
        id: newMessageId(now),
        from: 'alpha',
        to: 'beta',
        createdAt: new Date(now + 60_000).toISOString(),
        body: 'x',
        sentAt: new Date(now).toISOString(),
      },
      h.keys.alpha!,
    );
    expect((await h.post(early)).json.code).toBe('OIS_ERR_ENVELOPE_INVALID');
    // Older than the window its id would be remembered for: a replay of it could not be recognised.
    const createdAt = new Date(now - DEFAULT_SEEN_WINDOW_MS).toISOString();
    const ancient = signEnvelope(
      {
        v: 1,
        id: newMessageId(Date.parse(createdAt)),
        from: 'alpha',
        to: 'beta',
        createdAt,
        body: 'x',
        sentAt: new Date(now).toISOString(),
      },
      h.keys.alpha!,
    );
    const r = await h.post(ancient);
    expect(r.json.code).toBe('OIS_ERR_ENVELOPE_STALE');
    expect(String(r.json.message)).toMatch(/remembers ids for 48 h/);
    expect(h.delivered).toEqual([]);
  });

  it('daemon - another member posting a copied id first does not suppress the real message', async () => {
    const h = await harness();
    const real = h.envelope('alpha', 'the real one');
    // eve read the id in the chat log while alpha's message was queued, and posts her own under it.
    const copy = signEnvelope(
      { ...real, from: 'eve', body: 'a decoy', sig: undefined } as never,
      h.keys.eve!,
    );
    expect(await h.post(copy)).toMatchObject({ status: 202, json: { status: 'delivered' } });
    expect(await h.post(real)).toMatchObject({ status: 202, json: { status: 'delivered', id: real.id } });
    expect(h.delivered.map((t) => parseHeader(t)).map((x) => `${x?.from}:${x?.body}`)).toEqual([
      'eve:a decoy',
      'alpha:the real one',
    ]);
    // Each sender's own repeat is still a duplicate.
    expect(await h.post(real)).toMatchObject({ status: 200, json: { status: 'duplicate' } });
    expect(await h.post(copy)).toMatchObject({ status: 200, json: { status: 'duplicate' } });
    expect(h.delivered).toHaveLength(2);
  });

  const refusals: [string, (h: Harness) => unknown, number, string][] = [
    [
      'a forged signature',
      (h) => ({ ...h.envelope('alpha'), body: 'changed in transit' }),
      401,
      'OIS_ERR_SIGNATURE_INVALID',
    ],
    [
      'a sender signing as another',
      (h) => signEnvelope({ ...h.envelope('alpha'), sig: undefined } as never, h.keys.mallory!),
      401,
      'OIS_ERR_SIGNATURE_INVALID',
    ],
    ['an unknown sender', (h) => ({ ...h.envelope('alpha'), from: 'zed' }), 403, 'OIS_ERR_SENDER_UNKNOWN'],
    [
      'a sender without a key',
      (h) => ({ ...h.envelope('alpha'), from: 'gamma' }),
      403,
      'OIS_ERR_SENDER_UNKNOWN',
    ],
    ['a disabled sender', (h) => h.envelope('mallory'), 403, 'OIS_ERR_SENDER_INACTIVE'],
    [
      'another recipient',
      (h) => ({ ...h.envelope('alpha'), to: 'gamma' }),
      404,
      'OIS_ERR_RECIPIENT_MISMATCH',
    ],
    ['a stale time', (h) => h.envelope('alpha', 'old', {}), 400, 'OIS_ERR_ENVELOPE_STALE'],
    ['an extra field', (h) => ({ ...h.envelope('alpha'), extra: 1 }), 400, 'OIS_ERR_ENVELOPE_INVALID'],
    [
      'a missing field',
      (h) => {
        const { body: _b, ...rest } = h.envelope('alpha');
        return rest;
      },
      400,
      'OIS_ERR_ENVELOPE_INVALID',
    ],
    ['a wrong version', (h) => ({ ...h.envelope('alpha'), v: 2 }), 400, 'OIS_ERR_ENVELOPE_INVALID'],
    ['malformed JSON', () => '{"v":1,', 400, 'OIS_ERR_ENVELOPE_INVALID'],
  ];
  for (const [what, make, status, code] of refusals) {
    it(`daemon - ${what}: ${status} ${code}, nothing delivered`, async () => {
      // The stale case signs with a clock 10 minutes behind the daemon's.
      const skewed = what === 'a stale time';
      const h = await harness(
        skewed
          ? {
              now: (() => {
                let first = true;
                return () => {
                  if (first) {
                    first = false;
                    return Date.now() - 600_000;
                  }
                  return Date.now();
                };
              })(),
            }
          : {},
      );
      const r = await h.post(make(h));
      expect(r.status).toBe(status);
      expect(r.json.code).toBe(code);
      expect(typeof r.json.message).toBe('string');
      expect(h.delivered).toEqual([]);
    });
  }

  it('daemon - wrong content type 415, oversized body 413', async () => {
    const h = await harness();
    const e = h.envelope('alpha');
    expect((await h.post(JSON.stringify(e), { 'content-type': 'text/plain' })).json.code).toBe(
      'OIS_ERR_UNSUPPORTED_MEDIA_TYPE',
    );
    const big = await h.post({ ...e, body: 'x'.repeat(2_200_000) });
    expect(big).toMatchObject({ status: 413, json: { code: 'OIS_ERR_ENVELOPE_TOO_LARGE' } });
    expect(h.delivered).toEqual([]);
  });

  it("daemon - over the per-sender limit: 429 with Retry-After; forgeries do not use up a sender's quota", async () => {
    const h = await harness({ rateLimit: 3 });
    for (let i = 0; i < 5; i++) await h.post({ ...h.envelope('alpha'), body: 'forged' });
    for (let i = 0; i < 3; i++) expect((await h.post(h.envelope('alpha'))).status).toBe(202);
    const over = await h.post(h.envelope('alpha'));
    expect(over.status).toBe(429);
    expect(over.json.code).toBe('OIS_ERR_RATE_LIMITED');
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(h.delivered).toHaveLength(3);
  });

  it('daemon - a local gateway failure is 503 with Retry-After, and the retry delivers once', async () => {
    const h = await harness();
    h.failNext.error = new OisError('OIS_ERR_PEER_UNREACHABLE', 'gateway down');
    const e = h.envelope('alpha');
    const first = await h.post(e);
    expect(first).toMatchObject({ status: 503, json: { code: 'OIS_ERR_LOCAL_GATEWAY' } });
    expect(first.headers['retry-after']).toBe('30');
    expect((await h.post(e)).status).toBe(202);
    expect((await h.post(e)).status).toBe(200);
    expect(h.delivered).toHaveLength(1);
  });

  it('daemon - health and readiness', async () => {
    const h = await harness();
    expect((await h.app.inject('/healthz')).json()).toEqual({ ok: true });
    expect((await h.app.inject('/readyz')).json()).toEqual({ ready: true });
    expect((await h.app.inject('/nope')).statusCode).toBe(404);
  });
});

describe('daemon - the dedupe store', () => {
  it('daemon - a delivered id is remembered for the window, then pruned', async () => {
    const home = await mkdtemp(join(tmpdir(), 'ois-seen-'));
    let now = 1_000_000_000_000;
    const seen = new SeenStore(home, { now: () => now });
    stores.push(seen);
    expect(seen.claim('01KAJ7Z3XH2M8Q4V6N0R5T9W1Y', 'Alpha')).toBe('new');
    seen.delivered('01KAJ7Z3XH2M8Q4V6N0R5T9W1Y', 'alpha');
    now += DEFAULT_SEEN_WINDOW_MS - 1;
    expect(seen.prune()).toBe(0);
    // A replay inside the window is still recognised.
    expect(seen.claim('01KAJ7Z3XH2M8Q4V6N0R5T9W1Y', 'alpha')).toBe('delivered');
    now += 2;
    expect(seen.prune()).toBe(1);
    expect(seen.claim('01KAJ7Z3XH2M8Q4V6N0R5T9W1Y', 'alpha')).toBe('new');
    // Unsettled claims are never pruned: the crash recovery at start needs them.
    now += DEFAULT_SEEN_WINDOW_MS * 2;
    expect(seen.prune()).toBe(0);
    expect(seen.unsettled()).toEqual([{ id: '01KAJ7Z3XH2M8Q4V6N0R5T9W1Y', sender: 'alpha' }]);
  });

  it('daemon - an inbox.db of ois 0.1 (keyed by id) keeps its ids', async () => {
    const home = await mkdtemp(join(tmpdir(), 'ois-seen-'));
    const { DatabaseSync } = await import('node:sqlite');
    const old = new DatabaseSync(join(home, 'inbox.db'));
    old.exec(`CREATE TABLE seen (id TEXT PRIMARY KEY, sender TEXT NOT NULL, state TEXT NOT NULL, at INTEGER NOT NULL);
      INSERT INTO seen VALUES ('01KAJ7Z3XH2M8Q4V6N0R5T9W1Y', 'Alpha', 'delivered', ${Date.now()});`);
    old.close();
    const seen = new SeenStore(home);
    stores.push(seen);
    expect(seen.claim('01KAJ7Z3XH2M8Q4V6N0R5T9W1Y', 'alpha')).toBe('delivered');
    expect(seen.claim('01KAJ7Z3XH2M8Q4V6N0R5T9W1Y', 'eve')).toBe('new');
  });
});
