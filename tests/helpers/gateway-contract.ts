import { describe, expect, it } from 'vitest';

/** A gateway to run the contract against: its URL and token. */
export interface ContractTarget {
  url: string;
  token: string;
}

export interface ContractGateways {
  /** A gateway whose config allows sessions_send over HTTP. */
  allowed: ContractTarget;
  /** A gateway with the default policy (sessions_send denied over HTTP). */
  denied: ContractTarget;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

async function call(
  g: ContractTarget,
  body: unknown,
  init: { token?: string | null; method?: string; raw?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = init.token === undefined ? g.token : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const method = init.method ?? 'POST';
  const response = await fetch(`${g.url}/tools/invoke`, {
    method,
    headers,
    ...(method === 'GET' ? {} : { body: init.raw ?? JSON.stringify(body) }),
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

const send = (args: Record<string, unknown>) => ({ tool: 'sessions_send', args });

/**
 * What OIS relies on from an OpenClaw gateway, as one suite: the unit tests run it against the simulator,
 * the interop suite against real openclaw 2026.9.6, so the simulator cannot drift from the real thing.
 * `gateways` is called inside each test (the interop suite starts its gateways in beforeAll).
 */
export function gatewayContract(name: string, gateways: () => ContractGateways): void {
  describe(`gateway contract - ${name}`, () => {
    it(`gateway contract - ${name}: /health answers without auth`, async () => {
      const r = await fetch(`${gateways().allowed.url}/health`);
      expect(r.status).toBe(200);
      expect((await r.json()) as unknown).toMatchObject({ ok: true });
    });

    it(`gateway contract - ${name}: only POST on /tools/invoke (405 text/plain)`, async () => {
      const r = await call(gateways().allowed, undefined, { method: 'GET' });
      expect(r.status).toBe(405);
      expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    });

    it(`gateway contract - ${name}: 401 without or with a wrong token, the exact body, no ok`, async () => {
      const g = gateways().allowed;
      for (const token of [null, `x${g.token.slice(1)}`]) {
        const r = await call(g, send({ sessionKey: 'agent:main:main', message: 'x' }), { token });
        expect(r.status).toBe(401);
        expect(r.text).toBe('{"error":{"message":"Unauthorized","type":"unauthorized"}}');
      }
    });

    it(`gateway contract - ${name}: malformed JSON is 400 without ok`, async () => {
      const r = await call(gateways().allowed, undefined, { raw: '{"tool":' });
      expect(r.status).toBe(400);
      const json = r.json as { ok?: unknown; error: { type: string; message: string } };
      expect(json.ok).toBeUndefined();
      expect(json.error.type).toBe('invalid_request_error');
    });

    it(`gateway contract - ${name}: an unknown tool, and sessions_send under the default policy, are 404`, async () => {
      const { allowed, denied } = gateways();
      const unknown = await call(allowed, { tool: 'ois_no_such_tool' });
      expect(unknown.status).toBe(404);
      expect(unknown.text).toBe(
        '{"ok":false,"error":{"type":"not_found","message":"Tool not available: ois_no_such_tool"}}',
      );
      const r = await call(denied, send({ sessionKey: 'agent:main:main', message: 'x', timeoutSeconds: 0 }));
      expect(r.status).toBe(404);
      expect(r.text).toBe(
        '{"ok":false,"error":{"type":"not_found","message":"Tool not available: sessions_send"}}',
      );
    });

    it(`gateway contract - ${name}: sessions_send without a message is refused, so doctor can probe it`, async () => {
      const r = await call(gateways().allowed, send({ sessionKey: 'agent:main:main', timeoutSeconds: 0 }));
      expect(r.status).toBe(400);
      const json = r.json as { ok: boolean; error: { message: string } };
      expect(json.ok).toBe(false);
      expect(json.error.message).toMatch(/message required/i);
    });

    it(`gateway contract - ${name}: a fire-and-forget send is accepted, details mirrored in the content`, async () => {
      const r = await call(
        gateways().allowed,
        send({ sessionKey: 'agent:main:main', message: 'gateway contract', timeoutSeconds: 0 }),
      );
      expect(r.status).toBe(200);
      const body = r.json as {
        ok: boolean;
        result: { content: { type: string; text: string }[]; details: Record<string, unknown> };
      };
      expect(body.ok).toBe(true);
      expect(body.result.details).toMatchObject({ status: 'accepted', runId: expect.any(String) });
      expect(body.result.content[0]?.type).toBe('text');
      expect(JSON.parse(body.result.content[0]?.text ?? '')).toEqual(body.result.details);
    });

    it(`gateway contract - ${name}: an unknown session is a 200 whose details say error`, async () => {
      const r = await call(
        gateways().allowed,
        send({ sessionKey: 'agent:main:ois-contract-missing', message: 'x', timeoutSeconds: 0 }),
      );
      expect(r.status).toBe(200);
      const details = (r.json as { result: { details: { status: string; error: string } } }).result.details;
      expect(details.status).toBe('error');
      expect(details.error).toMatch(/No session found/);
    });
  });
}
