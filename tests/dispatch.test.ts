import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deliveredText, leaseMsFor, readQueued, signEnvelope } from '../src/federation/index.js';

const message = {
  v: 2 as const,
  peer: 'beta',
  id: '01KAJ7Z3XH2M8Q4V6N0R5T9W1Y',
  from: 'alpha',
  createdAt: '2026-11-21T10:32:05.000Z',
  body: 'Can you review shared/plan.md?\nsecond line',
};

describe('dispatch - what the outbox keeps', () => {
  it('dispatch - a v2 payload names the agent and the words, no URL', () => {
    expect(readQueued(JSON.stringify(message))).toEqual(message);
    expect(JSON.stringify(message)).not.toMatch(/url|http/);
  });

  it('dispatch - payloads queued by ois 0.1 (addressed to a URL) are read as messages to the agent', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const envelope = signEnvelope(
      { v: 1, id: message.id, from: 'alpha', to: 'beta', createdAt: message.createdAt, body: message.body },
      privateKey,
    );
    expect(readQueued(JSON.stringify({ mode: 'federated', url: 'http://10.0.0.9:18800', envelope }))).toEqual(
      message,
    );
    const text = deliveredText(
      { from: 'alpha', to: 'beta', id: message.id, at: new Date(message.createdAt) },
      message.body,
    );
    expect(
      readQueued(
        JSON.stringify({
          mode: 'direct',
          peer: 'beta',
          url: 'http://10.0.0.9:18789',
          sessionKey: 'agent:main:main',
          text,
        }),
      ),
    ).toEqual(message);
  });

  it('dispatch - one lease formula: longer than every path of one attempt with its retries', () => {
    const settings = { connectTimeoutMs: 5000, timeoutMs: 15_000, retries: 3 };
    expect(leaseMsFor(settings)).toBeGreaterThan((5000 + 15_000) * 4 * 4);
    expect(leaseMsFor({ ...settings, retries: 0 })).toBeGreaterThan((5000 + 15_000) * 4);
  });
});

describe('dispatch - one bounded body reader', () => {
  it('dispatch - a "daemon" that answers megabytes is a protocol error, not a buffer we fill', async () => {
    const { createServer } = await import('node:http');
    const { postEnvelope } = await import('../src/federation/client.js');
    const server = createServer((_req, res) => {
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(`{"status":"delivered","pad":"${'x'.repeat(1024 * 1024)}"}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const { privateKey } = generateKeyPairSync('ed25519');
    const envelope = signEnvelope(
      { v: 1, id: message.id, from: 'alpha', to: 'beta', createdAt: message.createdAt, body: 'x' },
      privateKey,
    );
    try {
      await expect(
        postEnvelope(`http://127.0.0.1:${port}`, envelope, {
          connectTimeoutMs: 1000,
          timeoutMs: 2000,
          retries: 0,
        }),
      ).rejects.toMatchObject({
        code: 'OIS_ERR_PEER_PROTOCOL',
        message: expect.stringContaining('larger than 65536 bytes'),
      });
    } finally {
      server.close();
    }
  });
});
