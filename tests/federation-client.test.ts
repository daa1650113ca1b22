import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { postEnvelope } from '../src/federation/client.js';
import { signEnvelope } from '../src/federation/index.js';

const { privateKey } = generateKeyPairSync('ed25519');
const envelope = signEnvelope(
  {
    v: 1,
    id: '01KAJ7Z3XH2M8Q4V6N0R5T9W1Y',
    from: 'alpha',
    to: 'beta',
    createdAt: new Date().toISOString(),
    body: 'x',
  },
  privateKey,
);
const FAST = { connectTimeoutMs: 1000, timeoutMs: 2000, minRetryDelayMs: 1 };

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A "daemon" that gives the answers in turn (the last one from then on); resolves with its URL and hits. */
async function daemon(answers: { status: number; headers?: Record<string, string>; body: unknown }[]) {
  const hits: number[] = [];
  const started = performance.now();
  const server = createServer((req, res) => {
    req.resume().on('end', () => {
      hits.push(performance.now() - started);
      const a = answers[Math.min(hits.length, answers.length) - 1]!;
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(JSON.stringify(a.body));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, hits };
}

const busy = (retryAfter: string) => ({
  status: 503,
  headers: { 'retry-after': retryAfter },
  body: { code: 'OIS_ERR_LOCAL_GATEWAY', message: 'the gateway is down' },
});

describe('federation - postEnvelope retries by the transport policy', () => {
  it('federation - a 503 is retried after its Retry-After, then delivered', async () => {
    const d = await daemon([busy('1'), { status: 202, body: { status: 'delivered', id: envelope.id } }]);
    const r = await postEnvelope(d.url, envelope, { ...FAST, retries: 3 });
    expect(r).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(d.hits[1]! - d.hits[0]!).toBeGreaterThanOrEqual(1000 - 2);
  });

  it('federation - a Retry-After over maxRetryAfterMs is reported at once, with the daemon’s code', async () => {
    const d = await daemon([busy('120')]);
    await expect(postEnvelope(d.url, envelope, { ...FAST, retries: 3 })).rejects.toMatchObject({
      code: 'OIS_ERR_LOCAL_GATEWAY',
      details: { url: d.url, status: 503, messageId: envelope.id },
    });
    expect(d.hits).toHaveLength(1);
  });

  it('federation - a refusal is final; a 503 that does not end is tried retries + 1 times', async () => {
    const d = await daemon([
      { status: 401, body: { code: 'OIS_ERR_SIGNATURE_INVALID', message: 'bad signature' } },
    ]);
    await expect(postEnvelope(d.url, envelope, { ...FAST, retries: 3 })).rejects.toMatchObject({
      code: 'OIS_ERR_SIGNATURE_INVALID',
    });
    expect(d.hits).toHaveLength(1);
    const busyForGood = await daemon([busy('0')]);
    await expect(postEnvelope(busyForGood.url, envelope, { ...FAST, retries: 2 })).rejects.toMatchObject({
      code: 'OIS_ERR_LOCAL_GATEWAY',
    });
    expect(busyForGood.hits).toHaveLength(3);
  });
});
