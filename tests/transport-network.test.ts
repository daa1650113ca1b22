import { type ChildProcess, spawn } from 'node:child_process';
import { type AddressInfo, createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type ErrorCode, isOisError, type OisError } from '../src/errors.js';
import { type GatewaySimulator, startGatewaySimulator } from '../src/simulator/index.js';
import { type GatewayTarget, sessionsSend } from '../src/transport/index.js';

/**
 * Connection-level outcomes, against tiny raw TCP servers: what the peer did with the socket decides
 * whether a retry is safe (nothing was written yet) or the delivery is unknown (the body went out).
 */

const TOKEN = 'f'.repeat(48);
const FAST = { minRetryDelayMs: 10 };

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function target(url: string): GatewayTarget {
  return { url, token: TOKEN, sessionKey: 'agent:main:main' };
}

/** A raw TCP server; `onSocket` decides what happens to each connection. Counts connections. */
async function rawServer(
  onSocket: (socket: Socket) => void,
): Promise<{ url: string; connections: () => number }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    n++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => n };
}

/** Reads until the whole HTTP request (head + content-length body) has arrived, then calls `done`. */
function afterWholeRequest(socket: Socket, done: () => void): void {
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    const headEnd = buffered.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const length = Number(
      /content-length:\s*(\d+)/i.exec(buffered.subarray(0, headEnd).toString())?.[1] ?? 0,
    );
    if (buffered.length >= headEnd + 4 + length) done();
  });
}

async function failure(promise: Promise<unknown>, code: ErrorCode): Promise<OisError> {
  try {
    await promise;
  } catch (err) {
    if (!isOisError(err)) throw err;
    expect(err.code, err.message).toBe(code);
    expect(JSON.stringify(err.toJSON())).not.toContain(TOKEN);
    return err;
  }
  throw new Error(`expected ${code}, got success`);
}

describe('transport', () => {
  it('transport - connection refused is retried, then PEER_UNREACHABLE', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));

    const err = await failure(
      sessionsSend(target(`http://127.0.0.1:${port}`), { message: 'x', retries: 2, ...FAST }),
      'OIS_ERR_PEER_UNREACHABLE',
    );
    expect(err.message).toContain('connection refused');
    expect(err.message).toContain('not delivered');
    expect(err.hint).toContain('ZeroTier');
    expect(err.details).toMatchObject({ error: 'ECONNREFUSED', attempts: 3 });
  });

  it('transport - a reset before the body was written is retried, then PEER_UNREACHABLE', async () => {
    // RST as soon as the connection is accepted: undici has not written the request yet.
    const srv = await rawServer((socket) => socket.resetAndDestroy());
    const err = await failure(
      sessionsSend(target(srv.url), { message: 'x', retries: 2, ...FAST }),
      'OIS_ERR_PEER_UNREACHABLE',
    );
    expect(err.details).toMatchObject({ attempts: 3 });
    expect(srv.connections()).toBe(3);
  });

  it('transport - a reset after the body was sent is DELIVERY_UNKNOWN, not retried', async () => {
    const srv = await rawServer((socket) => afterWholeRequest(socket, () => socket.resetAndDestroy()));
    const err = await failure(
      sessionsSend(target(srv.url), { message: 'x', retries: 3, messageId: 'msg-7', ...FAST }),
      'OIS_ERR_DELIVERY_UNKNOWN',
    );
    expect(err.message).toContain('may have arrived');
    expect(err.details).toMatchObject({ messageId: 'msg-7', attempts: 1 });
    expect(srv.connections()).toBe(1);
  });

  it('transport - no answer after the body was sent is DELIVERY_UNKNOWN after timeoutMs', async () => {
    const srv = await rawServer((socket) => afterWholeRequest(socket, () => {}));
    const started = Date.now();
    const err = await failure(
      sessionsSend(target(srv.url), {
        message: 'x',
        timeoutMs: 400,
        retries: 3,
        messageId: 'msg-8',
        ...FAST,
      }),
      'OIS_ERR_DELIVERY_UNKNOWN',
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err.message).toContain('no answer within');
    expect(err.details).toMatchObject({ messageId: 'msg-8', error: 'UND_ERR_HEADERS_TIMEOUT' });
    expect(srv.connections()).toBe(1);
  });

  it('transport - a DNS failure is retried, then PEER_UNREACHABLE', async () => {
    // .invalid never resolves (RFC 6761); the resolver answers locally.
    const err = await failure(
      sessionsSend(target('http://ois-peer.invalid:18789'), { message: 'x', retries: 1, ...FAST }),
      'OIS_ERR_PEER_UNREACHABLE',
    );
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain(err.details?.error);
    expect(err.details).toMatchObject({ attempts: 2 });
  });

  it('transport - a connect timeout is retried, then PEER_UNREACHABLE', async () => {
    // A listener whose process is stopped: once its accept queue is full the kernel drops further SYNs,
    // so a connect hangs until our timeout (all on loopback).
    const child: ChildProcess = spawn(
      process.execPath,
      [
        '-e',
        "const s=require('node:net').createServer().listen({port:0,host:'127.0.0.1',backlog:1},()=>console.log(s.address().port))",
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    cleanups.push(() => {
      child.kill('SIGKILL');
    });
    const port = await new Promise<number>((resolve) =>
      child.stdout?.once('data', (d) => resolve(Number(String(d).trim()))),
    );
    child.kill('SIGSTOP');
    const fillers: Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const s = tcpConnect(port, '127.0.0.1');
      s.on('error', () => {});
      fillers.push(s);
    }
    cleanups.push(() => {
      for (const s of fillers) s.destroy();
    });
    await new Promise((resolve) => setTimeout(resolve, 100));

    const err = await failure(
      sessionsSend(target(`http://127.0.0.1:${port}`), {
        message: 'x',
        connectTimeoutMs: 200,
        retries: 1,
        ...FAST,
      }),
      'OIS_ERR_PEER_UNREACHABLE',
    );
    expect(err.details).toMatchObject({ error: 'UND_ERR_CONNECT_TIMEOUT', attempts: 2 });
  });

  it('transport - abort while waiting for the answer is INTERRUPTED', async () => {
    const srv = await rawServer((socket) => afterWholeRequest(socket, () => {}));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const err = await failure(
      sessionsSend(target(srv.url), { message: 'x', signal: controller.signal }),
      'OIS_ERR_INTERRUPTED',
    );
    expect(err.message).toContain('may have arrived');
    expect(srv.connections()).toBe(1);
  });

  it('transport - an aborted signal sends nothing', async () => {
    const srv = await rawServer((socket) => socket.destroy());
    const err = await failure(
      sessionsSend(target(srv.url), { message: 'x', signal: AbortSignal.abort() }),
      'OIS_ERR_INTERRUPTED',
    );
    expect(err.message).toContain('before the message reached');
    expect(srv.connections()).toBe(0);
  });

  it('transport - abort during a Retry-After wait is INTERRUPTED', async () => {
    const sim: GatewaySimulator = await startGatewaySimulator({ token: TOKEN, mode: 'suspending' });
    cleanups.push(() => sim.close());
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    await failure(
      sessionsSend(target(sim.url), { message: 'x', signal: controller.signal, ...FAST }),
      'OIS_ERR_INTERRUPTED',
    );
    expect(Date.now() - started).toBeLessThan(900);
    expect(sim.requests).toHaveLength(1);
  });
});
