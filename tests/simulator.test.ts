import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type GatewaySimulator,
  type GatewaySimulatorOptions,
  startGatewaySimulator,
} from '../src/simulator/index.js';

import { gatewayContract } from './helpers/gateway-contract.js';

const TOKEN = 'a'.repeat(48);

// The contract the interop suite also runs against real openclaw: the simulator must answer the same.
let allowed: GatewaySimulator;
let denied: GatewaySimulator;
beforeAll(async () => {
  allowed = await startGatewaySimulator({ token: TOKEN });
  denied = await startGatewaySimulator({ token: TOKEN, allowSessionsSend: false });
});
afterAll(async () => {
  await allowed?.close();
  await denied?.close();
});
gatewayContract('simulator', () => ({
  allowed: { url: allowed.url, token: TOKEN },
  denied: { url: denied.url, token: TOKEN },
}));

let sim: GatewaySimulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(opts: Partial<GatewaySimulatorOptions> = {}): Promise<GatewaySimulator> {
  sim = await startGatewaySimulator({ token: TOKEN, ...opts });
  return sim;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

async function call(
  s: GatewaySimulator,
  body: unknown,
  init: { token?: string | null; method?: string; raw?: string; path?: string; auth?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = init.token === undefined ? TOKEN : init.token;
  if (init.auth !== undefined) headers.authorization = init.auth;
  else if (token !== null) headers.authorization = `Bearer ${token}`;
  const method = init.method ?? 'POST';
  const response = await fetch(`${s.url}${init.path ?? '/tools/invoke'}`, {
    method,
    headers,
    ...(method === 'GET' || method === 'HEAD' ? {} : { body: init.raw ?? JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

function detailsOf(a: Answer): Record<string, unknown> {
  return (a.json as { result: { details: Record<string, unknown> } }).result.details;
}

function send(args: Record<string, unknown>, outer?: string) {
  return { tool: 'sessions_send', args, ...(outer === undefined ? {} : { sessionKey: outer }) };
}

describe('simulator', () => {
  it('simulator - probes answer without auth', async () => {
    const s = await start();
    for (const path of ['/health', '/healthz']) {
      const r = await fetch(`${s.url}${path}`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('{"ok":true,"status":"live"}');
    }
    expect((await fetch(`${s.url}/startupz`)).status).toBe(200);
    const ready = await fetch(`${s.url}/readyz`);
    expect(await ready.json()).toEqual({ ready: true });
  });

  it('simulator - only POST on /tools/invoke (405 text/plain)', async () => {
    const s = await start();
    const r = await call(s, undefined, { method: 'GET' });
    expect(r.status).toBe(405);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(r.headers.get('allow')).toBe('POST');
  });

  it('simulator - 401 without or with a wrong token, exact body without ok', async () => {
    const s = await start();
    for (const token of [null, 'b'.repeat(48), TOKEN.slice(1)]) {
      const r = await call(s, send({ sessionKey: 'agent:main:main', message: 'x' }), { token });
      expect(r.status).toBe(401);
      expect(r.text).toBe('{"error":{"message":"Unauthorized","type":"unauthorized"}}');
    }
    // The scheme is case-insensitive.
    const ok = await call(s, { tool: 'session_status' }, { auth: `bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
  });

  it('simulator - 413 over 2 MiB and 400 on malformed JSON, both without ok', async () => {
    const s = await start();
    const big = await call(s, undefined, { raw: `"${'x'.repeat(2 * 1024 * 1024)}"` });
    expect(big.status).toBe(413);
    expect(big.text).toBe('{"error":{"message":"Payload too large","type":"invalid_request_error"}}');
    const bad = await call(s, undefined, { raw: '{"tool":' });
    expect(bad.status).toBe(400);
    const json = bad.json as { ok?: unknown; error: { type: string; message: string } };
    expect(json.ok).toBeUndefined();
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.message).toBeTruthy();
  });

  it('simulator - tool is required, name wins over tool, unknown tools are 404', async () => {
    const s = await start();
    const missing = await call(s, { args: {} });
    expect(missing.status).toBe(400);
    const unknown = await call(s, { tool: 'session_status', name: 'exec' });
    expect(unknown.status).toBe(404);
    expect(unknown.text).toBe(
      '{"ok":false,"error":{"type":"not_found","message":"Tool not available: exec"}}',
    );
  });

  it('simulator - sessions_send denied by default policy answers 404', async () => {
    const s = await start({ allowSessionsSend: false });
    const r = await call(s, send({ sessionKey: 'agent:main:main', message: 'x', timeoutSeconds: 0 }));
    expect(r.status).toBe(404);
    expect(r.text).toBe(
      '{"ok":false,"error":{"type":"not_found","message":"Tool not available: sessions_send"}}',
    );
    expect(s.transcript('agent:main:main')).toEqual([]);
  });

  it('simulator - fire-and-forget send is accepted and lands in the transcript', async () => {
    const seen: string[] = [];
    const s = await start({ onMessage: (m) => seen.push(`${m.sessionKey}|${m.message}`) });
    const r = await call(s, send({ sessionKey: 'agent:main:main', message: 'hello', timeoutSeconds: 0 }));
    expect(r.status).toBe(200);
    const body = r.json as {
      ok: boolean;
      result: { content: { type: string; text: string }[]; details: Record<string, unknown> };
    };
    expect(body.ok).toBe(true);
    const details = body.result.details;
    expect(details).toEqual({
      runId: expect.any(String),
      status: 'accepted',
      sessionKey: 'agent:main:main',
      targetDisposition: 'queued',
      delivery: { status: 'pending', mode: 'announce' },
    });
    expect(Object.keys(details)).toEqual(['runId', 'status', 'sessionKey', 'targetDisposition', 'delivery']);
    expect(body.result.content).toHaveLength(1);
    expect(body.result.content[0]?.type).toBe('text');
    expect(JSON.parse(body.result.content[0]?.text ?? '')).toEqual(details);
    expect(seen).toEqual(['agent:main:main|hello']);
    const [msg] = s.transcript('agent:main:main');
    expect(msg).toMatchObject({
      role: 'user',
      content: 'hello',
      provenance: { kind: 'inter_session' },
      senderLabel: 'Forwarded from main',
    });
  });

  it('simulator - message aliases and the default wait of 30 s', async () => {
    const s = await start();
    const r = await call(s, send({ sessionKey: 'agent:main:main', text: 'via text' }, 'agent:main:ois'));
    // No timeoutSeconds: the gateway waits (default 30) and the echo answers at once.
    expect(detailsOf(r).status).toBe('ok');
    expect(s.transcript('agent:main:main')[0]?.content).toBe('via text');
  });

  it('simulator - unknown session is a 200 with status error', async () => {
    const s = await start();
    const r = await call(s, send({ sessionKey: 'agent:main:x', message: 'x', timeoutSeconds: 0 }));
    expect(r.status).toBe(200);
    expect((r.json as { ok?: unknown }).ok).toBe(true);
    expect(detailsOf(r)).toMatchObject({
      status: 'error',
      error: 'No session found: agent:main:x',
    });
  });

  it('simulator - pre-existing sessions and configured agents are reachable', async () => {
    const s = await start({ agentIds: ['main', 'ops'], sessions: ['agent:main:project'] });
    for (const key of ['agent:ops:main', 'agent:main:project']) {
      const r = await call(s, send({ sessionKey: key, message: 'x', timeoutSeconds: 0 }));
      expect(detailsOf(r).status).toBe('accepted');
    }
    const byAgent = await call(s, send({ agentId: 'ops', message: 'y', timeoutSeconds: 0 }));
    expect(detailsOf(byAgent).sessionKey).toBe('agent:ops:main');
  });

  it('simulator - waited send returns the reply, no_reply or timeout', async () => {
    const s = await start({ reply: (m) => (m === 'quiet' ? null : `re: ${m}`) });
    const ok = await call(
      s,
      send({ sessionKey: 'agent:main:main', message: 'ping', timeoutSeconds: 5 }, 'agent:main:ois'),
    );
    expect(detailsOf(ok)).toMatchObject({ status: 'ok', reply: 're: ping' });
    const quiet = await call(
      s,
      send({ sessionKey: 'agent:main:main', message: 'quiet', timeoutSeconds: 5 }, 'agent:main:ois'),
    );
    expect(detailsOf(quiet).status).toBe('no_reply');
    await s.close();

    const slow = await start({ replyDelayMs: 5_000 });
    const started = Date.now();
    const t = await call(
      slow,
      send({ sessionKey: 'agent:main:main', message: 'slow', timeoutSeconds: 1 }, 'agent:main:ois'),
    );
    expect(detailsOf(t).status).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('simulator - a waited send cannot target the calling session', async () => {
    const s = await start();
    // No outer sessionKey: the caller is agent:main:main.
    const r = await call(s, send({ sessionKey: 'agent:main:main', message: 'x', timeoutSeconds: 5 }));
    expect(r.status).toBe(200);
    expect(detailsOf(r)).toMatchObject({
      status: 'error',
      error: 'sessions_send cannot target the calling session',
    });
  });

  it('simulator - sessions_history and session_status', async () => {
    const s = await start();
    await call(s, send({ sessionKey: 'agent:main:main', message: 'one', timeoutSeconds: 0 }));
    await call(s, send({ sessionKey: 'agent:main:main', message: 'two', timeoutSeconds: 0 }));
    const h = await call(s, { tool: 'sessions_history', args: { sessionKey: 'agent:main:main', limit: 1 } });
    expect(h.status).toBe(200);
    const messages = detailsOf(h).messages as Record<string, unknown>[];
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      role: 'user',
      content: 'two',
      provenance: { kind: 'inter_session' },
      senderLabel: 'Forwarded from main',
    });
    const st = await call(s, { tool: 'session_status' });
    expect(st.status).toBe(200);
    expect((st.json as { ok?: unknown }).ok).toBe(true);
  });

  it('simulator - suspending answers 503 with Retry-After: 1', async () => {
    const s = await start({ mode: 'suspending' });
    const r = await call(s, { tool: 'session_status' });
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(r.text).toBe(
      '{"error":{"message":"Gateway is temporarily unavailable while suspending or restarting","type":"service_unavailable","code":"gateway_unavailable"}}',
    );
    s.setMode('normal');
    expect((await call(s, { tool: 'session_status' })).status).toBe(200);
  });

  it('simulator - failed logins lock a client out with 429 and Retry-After', async () => {
    const s = await start({
      failedAuthLimit: { max: 2, windowMs: 60_000, lockoutMs: 120_000, exemptLoopback: false },
    });
    expect((await call(s, { tool: 'session_status' }, { token: 'wrong' })).status).toBe(401);
    expect((await call(s, { tool: 'session_status' }, { token: 'wrong' })).status).toBe(401);
    // Locked out now, even with the right token.
    const r = await call(s, { tool: 'session_status' });
    expect(r.status).toBe(429);
    expect(r.text).toBe(
      '{"error":{"message":"Too many failed authentication attempts. Please try again later.","type":"rate_limited"}}',
    );
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(100);
  });

  it('simulator - loopback is exempt from the lockout by default', async () => {
    const s = await start();
    for (let i = 0; i < 12; i++) {
      expect((await call(s, { tool: 'session_status' }, { token: 'wrong' })).status).toBe(401);
    }
    expect((await call(s, { tool: 'session_status' })).status).toBe(200);
  });

  it('simulator - records every request without the token', async () => {
    const s = await start();
    await call(s, send({ sessionKey: 'agent:main:main', message: 'x', timeoutSeconds: 0 }));
    await fetch(`${s.url}/health`);
    expect(s.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'POST /tools/invoke 200',
      'GET /health 200',
    ]);
    expect(s.requests[0]?.body).toEqual(
      send({ sessionKey: 'agent:main:main', message: 'x', timeoutSeconds: 0 }),
    );
    expect(s.requests[0]?.headers.authorization).toBe('[redacted]');
    expect(JSON.stringify(s.requests)).not.toContain(TOKEN);
  });
});
