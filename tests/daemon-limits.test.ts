import { mkdtemp } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { SeenStore } from '../src/federation/index.js';
import { parseRegistry } from '../src/registry/index.js';
import { buildApp } from '../src/server/index.js';

let app: FastifyInstance | undefined;
let seen: SeenStore | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await app?.close();
  seen?.close();
  app = undefined;
});

/** beta's daemon with a 1 s request timeout and at most 3 connections per address, on 127.0.0.1:0. */
async function daemon(): Promise<number> {
  const home = await mkdtemp(join(tmpdir(), 'ois-limits-'));
  const config = loadConfig({
    env: {
      OIS_HOME: home,
      OIS_NAME: 'beta',
      OIS_SERVE_REQUEST_TIMEOUT_MS: '1000',
      OIS_SERVE_MAX_CONNECTIONS_PER_ADDRESS: '3',
    },
    cwd: home,
  }) as ReturnType<typeof loadConfig> & { name: string };
  seen = new SeenStore(home);
  app = await buildApp({
    config,
    registry: async () => parseRegistry('# Team\n'),
    seen,
    deliver: async () => {},
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as { port: number }).port;
}

/** A raw connection; resolves with everything the server sent once it closes (or after `ms`). */
function open(port: number): { socket: Socket; closed: Promise<{ data: string; afterMs: number }> } {
  const started = Date.now();
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let data = '';
  socket.on('data', (d) => {
    data += d;
  });
  socket.on('error', () => {});
  const closed = new Promise<{ data: string; afterMs: number }>((resolve) =>
    socket.on('close', () => resolve({ data, afterMs: Date.now() - started })),
  );
  return { socket, closed };
}

describe('daemon - connection limits', () => {
  it('daemon - a client sending its body slowly is cut off after the request timeout', async () => {
    const port = await daemon();
    const { socket, closed } = open(port);
    socket.write(
      'POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"v":',
    );
    // A byte now and then, never the whole body.
    const drip = setInterval(() => socket.writable && socket.write(' '), 200);
    const result = await Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), 6000))]);
    clearInterval(drip);
    expect(result, 'the connection was still open after 6 s').not.toBeNull();
    expect(result!.afterMs).toBeLessThan(4000);
    expect(result!.data).toMatch(/^HTTP\/1\.1 408/);
  });

  it('daemon - connections past the cap from one address are closed; below it requests still work', async () => {
    const port = await daemon();
    const held = [open(port), open(port), open(port)];
    await Promise.all(held.map(({ socket }) => new Promise((r) => socket.once('connect', r))));
    // A fourth from the same address is closed at once, without an answer.
    const extra = open(port);
    const refused = await Promise.race([
      extra.closed,
      new Promise<null>((r) => setTimeout(() => r(null), 2000)),
    ]);
    expect(refused, 'the fourth connection stayed open').not.toBeNull();
    expect(refused!.data).toBe('');
    // Once one of the three goes, a normal request gets through.
    const gone = held[0]!;
    gone.socket.destroy();
    await gone.closed;
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(200);
  });
});
