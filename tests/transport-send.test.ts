import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type ErrorCode, isOisError, type OisError } from '../src/errors.js';
import {
  type GatewaySimulator,
  type GatewaySimulatorOptions,
  startGatewaySimulator,
} from '../src/simulator/index.js';
import {
  type GatewayTarget,
  invokeTool,
  MAX_GATEWAY_BODY_BYTES,
  sessionsSend,
} from '../src/transport/index.js';

const TOKEN = '0123456789abcdef'.repeat(3);
const FAST = { minRetryDelayMs: 10 };

let sim: GatewaySimulator | undefined;
let scripted: Server | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
  if (scripted) {
    scripted.closeAllConnections();
    await new Promise((resolve) => scripted?.close(resolve));
    scripted = undefined;
  }
});

async function startSim(opts: Partial<GatewaySimulatorOptions> = {}): Promise<GatewaySimulator> {
  sim = await startGatewaySimulator({ token: TOKEN, ...opts });
  return sim;
}

function target(url: string, sessionKey = 'agent:main:main', token = TOKEN): GatewayTarget {
  return { url, token, sessionKey };
}

function invokes(s: GatewaySimulator) {
  return s.requests.filter((r) => r.path === '/tools/invoke');
}

interface Scripted {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/** A tiny real server that plays back answers in order (the last one repeats) and counts requests. */
async function startScripted(answers: Scripted[]): Promise<{ url: string; count: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const a = answers[Math.min(n, answers.length - 1)];
      n++;
      if (!a) throw new Error('no answers');
      res.writeHead(a.status, { 'content-type': 'application/json; charset=utf-8', ...a.headers });
      res.end(a.body);
    });
  });
  scripted = server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, count: () => n };
}

async function failure(promise: Promise<unknown>, code: ErrorCode): Promise<OisError> {
  try {
    await promise;
  } catch (err) {
    if (!isOisError(err)) throw err;
    expect(err.code, err.message).toBe(code);
    expect(err.message).not.toContain(TOKEN);
    expect(JSON.stringify(err.toJSON())).not.toContain(TOKEN);
    return err;
  }
  throw new Error(`expected ${code}, got success`);
}

function toolResult(details: Record<string, unknown>): string {
  return JSON.stringify({
    ok: true,
    result: { content: [{ type: 'text', text: JSON.stringify(details, null, 2) }], details },
  });
}

describe('transport', () => {
  it('transport - fire-and-forget send is accepted with the exact request', async () => {
    const s = await startSim();
    const r = await sessionsSend(target(s.url), { message: 'hello' });
    expect(r).toMatchObject({ status: 'accepted', attempts: 1, runId: expect.any(String) });
    expect(r.seconds).toBeGreaterThanOrEqual(0);
    const [req] = invokes(s);
    expect(invokes(s)).toHaveLength(1);
    expect(req?.method).toBe('POST');
    expect(req?.headers.authorization).toBe('[redacted]');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(JSON.stringify(req?.body)).toBe(
      '{"tool":"sessions_send","args":{"sessionKey":"agent:main:main","message":"hello","timeoutSeconds":0}}',
    );
    expect(s.transcript('agent:main:main').map((m) => m.content)).toEqual(['hello']);
  });

  it('transport - a trailing slash or a path prefix in the url', async () => {
    const s = await startSim();
    await sessionsSend(target(`${s.url}/`), { message: 'a' });
    expect(invokes(s)).toHaveLength(1);
    // A prefix is kept (a reverse proxy); the simulator has none, so it answers 404 Not Found (text).
    await failure(sessionsSend(target(`${s.url}/gw/`), { message: 'b' }), 'OIS_ERR_PEER_PROTOCOL');
    expect(s.requests.at(-1)?.path).toBe('/gw/tools/invoke');
  });

  it('transport - waited send returns the reply and names the calling session', async () => {
    const s = await startSim({ reply: (m, key) => `${key} got ${m}` });
    const r = await sessionsSend(target(s.url), { message: 'ping', waitSeconds: 5 });
    expect(r).toMatchObject({ status: 'ok', reply: 'agent:main:main got ping', attempts: 1 });
    expect(invokes(s)[0]?.body).toEqual({
      tool: 'sessions_send',
      args: { sessionKey: 'agent:main:main', message: 'ping', timeoutSeconds: 5 },
      sessionKey: 'agent:main:ois',
    });
  });

  it('transport - waited send without a reply is no_reply', async () => {
    const s = await startSim({ reply: () => null });
    const r = await sessionsSend(target(s.url), { message: 'x', waitSeconds: 2 });
    expect(r.status).toBe('no_reply');
  });

  it('transport - waited send past the wait is timeout', async () => {
    const s = await startSim({ replyDelayMs: 5_000 });
    const r = await sessionsSend(target(s.url), { message: 'x', waitSeconds: 1 });
    expect(r.status).toBe('timeout');
    expect(r.attempts).toBe(1);
  });

  it('transport - unknown session is PEER_SESSION_UNKNOWN with the gateway words', async () => {
    const s = await startSim();
    const err = await failure(
      sessionsSend(target(s.url, 'agent:main:x'), { message: 'x', messageId: 'm-1' }),
      'OIS_ERR_PEER_SESSION_UNKNOWN',
    );
    expect(err.hint).toContain('gateway.sessionKey');
    expect(err.message).toContain('No session found: agent:main:x');
    expect(err.details).toMatchObject({ url: s.url, status: 200, messageId: 'm-1' });
    expect(invokes(s)).toHaveLength(1);
  });

  it('transport - targeting the calling session is PEER_REJECTED', async () => {
    const s = await startSim();
    const err = await failure(
      sessionsSend(target(s.url), { message: 'x', waitSeconds: 2, callerSessionKey: 'agent:main:main' }),
      'OIS_ERR_PEER_REJECTED',
    );
    expect(err.message).toContain('cannot target the calling session');
  });

  it('transport - a run that failed after delivery says the message was delivered', async () => {
    const srv = await startScripted([
      {
        status: 200,
        body: toolResult({
          runId: 'r',
          status: 'error',
          error: 'No route-compatible authentication source is configured for openai.',
          sentBeforeError: true,
        }),
      },
    ]);
    const err = await failure(
      sessionsSend(target(srv.url), { message: 'x', waitSeconds: 5 }),
      'OIS_ERR_PEER_REJECTED',
    );
    expect(err.message).toContain('No route-compatible authentication source');
    expect(err.details).toMatchObject({ delivered: true, runId: 'r' });
    expect(srv.count()).toBe(1);
  });

  it('transport - forbidden is PEER_FORBIDDEN', async () => {
    const srv = await startScripted([
      {
        status: 200,
        body: toolResult({ runId: 'r', status: 'forbidden', error: 'Agent-to-agent messaging is disabled.' }),
      },
    ]);
    const err = await failure(sessionsSend(target(srv.url), { message: 'x' }), 'OIS_ERR_PEER_FORBIDDEN');
    expect(err.message).toContain('Agent-to-agent messaging is disabled.');
    expect(srv.count()).toBe(1);
  });

  it('transport - 401 is PEER_AUTH and never retried', async () => {
    const s = await startSim();
    const err = await failure(
      sessionsSend(target(s.url, 'agent:main:main', 'wrong-token'), { message: 'x', retries: 5, ...FAST }),
      'OIS_ERR_PEER_AUTH',
    );
    expect(err.message).toContain('Unauthorized');
    expect(err.details).toMatchObject({ status: 401 });
    expect(invokes(s)).toHaveLength(1);
  });

  it('transport - 404 tool not available is PEER_TOOL_DENIED with the fix', async () => {
    const s = await startSim({ allowSessionsSend: false });
    const err = await failure(
      sessionsSend(target(s.url), { message: 'x', ...FAST }),
      'OIS_ERR_PEER_TOOL_DENIED',
    );
    expect(err.message).toContain('Tool not available: sessions_send');
    expect(err.hint).toContain('"gateway": {"tools": {"allow": ["sessions_send"]}}');
    expect(invokes(s)).toHaveLength(1);
  });

  it('transport - a message over 2 MiB fails before any request, measured in bytes', async () => {
    const s = await startSim();
    const overhead = Buffer.byteLength(
      JSON.stringify({
        tool: 'sessions_send',
        args: { sessionKey: 'agent:main:main', message: '', timeoutSeconds: 0 },
      }),
    );
    // 'é' is 2 bytes: a character count would let this through.
    const tooBig = 'é'.repeat(Math.floor((MAX_GATEWAY_BODY_BYTES - overhead) / 2) + 1);
    await failure(sessionsSend(target(s.url), { message: tooBig }), 'OIS_ERR_MESSAGE_TOO_LARGE');
    expect(invokes(s)).toHaveLength(0);
    // Exactly at the limit it goes out, and the gateway takes it.
    const exact = 'x'.repeat(MAX_GATEWAY_BODY_BYTES - overhead);
    const r = await sessionsSend(target(s.url), { message: exact });
    expect(r.status).toBe('accepted');
    await failure(sessionsSend(target(s.url), { message: `${exact}x` }), 'OIS_ERR_MESSAGE_TOO_LARGE');
    expect(invokes(s)).toHaveLength(1);
  });

  it('transport - 413 from the peer is PEER_TOO_LARGE', async () => {
    const s = await startSim({ maxBodyBytes: 100 });
    const err = await failure(
      sessionsSend(target(s.url), { message: 'y'.repeat(200), ...FAST }),
      'OIS_ERR_PEER_TOO_LARGE',
    );
    expect(err.message).toContain('Payload too large');
    expect(invokes(s)).toHaveLength(1);
  });

  it('transport - 400, 403 and 405 are PEER_REJECTED, 500 is PEER_ERROR, none retried', async () => {
    const cases: [Scripted, ErrorCode, string][] = [
      [
        { status: 400, body: '{"ok":false,"error":{"type":"invalid_request","message":"unknown agent"}}' },
        'OIS_ERR_PEER_REJECTED',
        'unknown agent',
      ],
      [
        {
          status: 403,
          body: '{"ok":false,"error":{"type":"tool_call_blocked","message":"blocked by hook"}}',
        },
        'OIS_ERR_PEER_REJECTED',
        'blocked by hook',
      ],
      [
        { status: 405, body: 'Method Not Allowed', headers: { 'content-type': 'text/plain; charset=utf-8' } },
        'OIS_ERR_PEER_REJECTED',
        'Method Not Allowed',
      ],
      [
        { status: 500, body: '{"ok":false,"error":{"type":"tool_error","message":"tool execution failed"}}' },
        'OIS_ERR_PEER_ERROR',
        'tool execution failed',
      ],
    ];
    for (const [answer, code, words] of cases) {
      const srv = await startScripted([answer]);
      const err = await failure(sessionsSend(target(srv.url), { message: 'x', ...FAST }), code);
      expect(err.message).toContain(words);
      expect(err.details).toMatchObject({ status: answer.status });
      expect(srv.count()).toBe(1);
      scripted?.closeAllConnections();
      await new Promise((resolve) => scripted?.close(resolve));
      scripted = undefined;
    }
  });

  it('transport - a body that is not the expected JSON is PEER_PROTOCOL', async () => {
    for (const body of ['<html>hello</html>', '{"ok":true}', toolResult({ status: 'weird' })]) {
      const srv = await startScripted([{ status: 200, body }]);
      await failure(sessionsSend(target(srv.url), { message: 'x', ...FAST }), 'OIS_ERR_PEER_PROTOCOL');
      expect(srv.count()).toBe(1);
      scripted?.closeAllConnections();
      await new Promise((resolve) => scripted?.close(resolve));
      scripted = undefined;
    }
  });

  it('transport - 503 while suspending is retried after Retry-After', async () => {
    const s = await startSim({ mode: 'suspending' });
    // Retry-After is 1 s; the gateway is back well before that.
    setTimeout(() => s.setMode('normal'), 200);
    const r = await sessionsSend(target(s.url), { message: 'x', ...FAST });
    expect(r).toMatchObject({ status: 'accepted', attempts: 2 });
    expect(r.seconds).toBeGreaterThanOrEqual(0.9);
    expect(invokes(s).map((q) => q.status)).toEqual([503, 200]);
  });

  it('transport - a gateway still starting is retried like a 503, then delivered', async () => {
    const s = await startSim({ mode: 'starting' });
    setTimeout(() => s.setMode('normal'), 200);
    const r = await sessionsSend(target(s.url), { message: 'x', ...FAST });
    expect(r).toMatchObject({ status: 'accepted', attempts: 2 });
    expect(invokes(s).map((q) => q.status)).toEqual([200, 200]);
  });

  it('transport - a gateway that stays in startup is PEER_BUSY, not a rejection', async () => {
    const s = await startSim({ mode: 'starting' });
    const err = await failure(
      sessionsSend(target(s.url), { message: 'x', retries: 1, ...FAST }),
      'OIS_ERR_PEER_BUSY',
    );
    expect(err.message).toContain('sessions.create unavailable during gateway startup');
    expect(err.hint).toContain('still starting');
    expect(invokes(s)).toHaveLength(2);
  });

  it('transport - 503 until retries run out is PEER_BUSY with when to retry', async () => {
    const s = await startSim({ mode: 'suspending' });
    const err = await failure(
      sessionsSend(target(s.url), { message: 'x', retries: 1, ...FAST }),
      'OIS_ERR_PEER_BUSY',
    );
    expect(err.message).toContain('Gateway is temporarily unavailable');
    expect(err.message).toContain('retry after 1 s');
    expect(err.details).toMatchObject({ status: 503, retryAfterSeconds: 1, retryAt: expect.any(String) });
    expect(invokes(s)).toHaveLength(2);
  });

  it('transport - 429 then success takes two requests (Retry-After as an HTTP date)', async () => {
    const limited = {
      status: 429,
      body: '{"error":{"message":"Too many failed authentication attempts. Please try again later.","type":"rate_limited"}}',
      headers: { 'retry-after': new Date(Date.now() + 1_000).toUTCString() },
    };
    const srv = await startScripted([
      limited,
      { status: 200, body: toolResult({ runId: 'r1', status: 'accepted' }) },
    ]);
    const r = await sessionsSend(target(srv.url), { message: 'x', ...FAST });
    expect(r).toMatchObject({ status: 'accepted', runId: 'r1', attempts: 2 });
    expect(srv.count()).toBe(2);
  });

  it('transport - a lockout longer than maxRetryAfterMs is PEER_BUSY at once', async () => {
    const s = await startSim({
      failedAuthLimit: { max: 1, windowMs: 60_000, lockoutMs: 300_000, exemptLoopback: false },
    });
    await failure(
      sessionsSend(target(s.url, 'agent:main:main', 'bad'), { message: 'x' }),
      'OIS_ERR_PEER_AUTH',
    );
    const started = Date.now();
    const err = await failure(sessionsSend(target(s.url), { message: 'x', ...FAST }), 'OIS_ERR_PEER_BUSY');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err.message).toContain('Too many failed authentication attempts');
    expect(err.details).toMatchObject({ status: 429, retryAfterSeconds: 300 });
    expect(invokes(s)).toHaveLength(2);
  });

  it('transport - invokeTool returns the tool details (session_status)', async () => {
    const s = await startSim();
    const details = await invokeTool(target(s.url), 'session_status');
    expect(details).toMatchObject({ status: 'idle' });
    expect(invokes(s)[0]?.body).toEqual({ tool: 'session_status', args: {} });
    const err = await failure(
      invokeTool(target(s.url), 'exec', { command: 'ls' }),
      'OIS_ERR_PEER_TOOL_DENIED',
    );
    expect(err.hint).toContain('"allow": ["exec"]');
  });

  it('transport - bad url and missing token fail before any request', async () => {
    await failure(sessionsSend(target('not a url'), { message: 'x' }), 'OIS_ERR_CONFIG_INVALID');
    await failure(sessionsSend(target('ftp://127.0.0.1:1'), { message: 'x' }), 'OIS_ERR_CONFIG_INVALID');
    await failure(
      sessionsSend(target('http://127.0.0.1:1', 'agent:main:main', ''), { message: 'x' }),
      'OIS_ERR_TOKEN_MISSING',
    );
    await failure(sessionsSend(target('http://127.0.0.1:1'), { message: '  ' }), 'OIS_ERR_MESSAGE_EMPTY');
  });
});
