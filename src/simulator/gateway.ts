import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { AuthGate } from './auth.js';
import { readBody, send } from './http.js';
import { type JsonObject, Sessions, ToolError, type ToolResult } from './sessions.js';
import {
  DEFAULT_FAILED_AUTH_LIMIT,
  DEFAULT_SIMULATOR_BODY_BYTES,
  type GatewaySimulator,
  type GatewaySimulatorMode,
  type GatewaySimulatorOptions,
  type RecordedRequest,
} from './types.js';

/**
 * A SIMULATOR of the parts of an OpenClaw 2026.9.6 gateway that OIS talks to: `POST /tools/invoke` with
 * `sessions_send`, `sessions_history` and `session_status`, and the unauthenticated probes. It is what our
 * tests use as the peer gateway, and what a user can run to try OIS without OpenClaw. It never runs a model:
 * replies come from the `reply` callback.
 *
 * Status codes, JSON bodies and headers follow `shared/reference/openclaw-gateway.md` (the table under
 * "POST /tools/invoke"). Where the reference is silent the choice made here is marked "(not in the
 * reference)"; those are plausible, not verified against a real gateway.
 *
 * Plain node:http on purpose: it starts in a few milliseconds and does exactly what we tell it. Its parts:
 * `auth.ts` (bearer check, failed-auth lockout), `sessions.ts` (sessions and their tools), `http.ts` (answers,
 * body limit), `types.ts` (options and records); this file routes requests to them.
 */

function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Starts the simulator; resolves once it listens. */
export async function startGatewaySimulator(opts: GatewaySimulatorOptions): Promise<GatewaySimulator> {
  if (!opts.token) throw new Error('gateway simulator: a token is required');
  const allowSessionsSend = opts.allowSessionsSend ?? true;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_SIMULATOR_BODY_BYTES;
  const auth = new AuthGate(opts.token, opts.failedAuthLimit ?? DEFAULT_FAILED_AUTH_LIMIT);
  let mode: GatewaySimulatorMode = opts.mode ?? 'normal';
  const startedAt = Date.now();
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  const sessions = new Sessions(opts, () => mode, sleep);
  const { agentIds } = sessions;

  async function handleInvoke(req: IncomingMessage, res: ServerResponse, record: RecordedRequest) {
    if (req.method !== 'POST') {
      req.resume();
      send(res, record, 405, 'Method Not Allowed', { Allow: 'POST' });
      return;
    }
    if (mode === 'suspending') {
      req.resume();
      send(
        res,
        record,
        503,
        {
          error: {
            message: 'Gateway is temporarily unavailable while suspending or restarting',
            type: 'service_unavailable',
            code: 'gateway_unavailable',
          },
        },
        { 'Retry-After': '1' },
      );
      return;
    }
    const now = Date.now();
    const ip = req.socket.remoteAddress;
    const locked = auth.lockedOutMs(ip, now);
    if (locked > 0) {
      req.resume();
      send(
        res,
        record,
        429,
        {
          error: {
            message: 'Too many failed authentication attempts. Please try again later.',
            type: 'rate_limited',
          },
        },
        { 'Retry-After': String(Math.ceil(locked / 1000)) },
      );
      return;
    }
    if (!auth.authorized(req)) {
      auth.recordFailure(ip, now);
      req.resume();
      send(res, record, 401, { error: { message: 'Unauthorized', type: 'unauthorized' } });
      return;
    }

    const raw = await readBody(req, maxBodyBytes);
    if (raw === null) {
      send(res, record, 413, { error: { message: 'Payload too large', type: 'invalid_request_error' } });
      return;
    }
    let body: unknown;
    try {
      body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
    } catch (err) {
      send(res, record, 400, { error: { message: (err as Error).message, type: 'invalid_request_error' } });
      return;
    }
    record.body = body;
    const input = isRecord(body) ? body : {};
    const toolName =
      typeof input.name === 'string' && input.name.trim()
        ? input.name.trim()
        : typeof input.tool === 'string'
          ? input.tool.trim()
          : '';
    if (!toolName) {
      send(res, record, 400, {
        error: { message: 'tools.invoke requires body.tool', type: 'invalid_request_error' },
      });
      return;
    }
    if (typeof input.agentId === 'string' && !agentIds.includes(input.agentId)) {
      // (not in the reference) the wording; the reference only says "unknown -> 400".
      send(res, record, 400, {
        ok: false,
        error: { type: 'invalid_request', message: `Unknown agent: ${input.agentId}` },
      });
      return;
    }
    const outer =
      typeof input.sessionKey === 'string' && input.sessionKey.trim() ? input.sessionKey.trim() : '';
    const defaultAgent = typeof input.agentId === 'string' ? input.agentId : (agentIds[0] ?? 'main');
    const callerKey = !outer || outer === 'main' ? sessions.mainKeyOf(defaultAgent) : outer;
    const args = isRecord(input.args) ? input.args : {};

    let result: ToolResult | ToolError;
    switch (toolName) {
      case 'sessions_send':
        if (!allowSessionsSend) {
          notFound(res, record, toolName);
          return;
        }
        result = await sessions.sessionsSend(args, callerKey);
        break;
      case 'sessions_history':
        result = sessions.sessionsHistory(args);
        break;
      case 'session_status':
        result = sessions.sessionStatus(callerKey);
        break;
      default:
        notFound(res, record, toolName);
        return;
    }
    if (result instanceof ToolError) {
      send(res, record, 400, { ok: false, error: { type: 'tool_error', message: result.message } });
      return;
    }
    send(res, record, 200, { ok: true, result });
  }

  function notFound(res: ServerResponse, record: RecordedRequest, toolName: string): void {
    send(res, record, 404, {
      ok: false,
      error: { type: 'not_found', message: `Tool not available: ${toolName}` },
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): Promise<void> {
    switch (record.path) {
      case '/tools/invoke':
        await handleInvoke(req, res, record);
        return;
      case '/health':
      case '/healthz':
        req.resume();
        send(res, record, 200, { ok: true, status: 'live' });
        return;
      case '/startupz':
        req.resume();
        // (not in the reference) the bodies; only the statuses are documented.
        if (mode === 'starting') send(res, record, 503, { ok: false, status: 'starting' });
        else
          send(res, record, 200, {
            ok: true,
            status: 'started',
            version: '2026.9.6',
            uptimeMs: Date.now() - startedAt,
          });
        return;
      case '/readyz':
        req.resume();
        // (not in the reference) a suspending gateway reporting not ready.
        if (mode === 'suspending') send(res, record, 503, { ready: false });
        else send(res, record, 200, { ready: true });
        return;
      default:
        req.resume();
        send(res, record, 404, 'Not Found');
    }
  }

  const server: Server = createServer((req, res) => {
    const headers: RecordedRequest['headers'] = { ...req.headers };
    if (headers.authorization !== undefined) headers.authorization = '[redacted]';
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: new URL(req.url ?? '/', 'http://simulator').pathname,
      headers,
      body: undefined,
      at: new Date(),
    };
    requests.push(record);
    handle(req, res, record).catch(() => {
      // A reply callback that threw (or a simulator bug): answer as the gateway does for a failed tool.
      send(res, record, 500, { ok: false, error: { type: 'tool_error', message: 'tool execution failed' } });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    requests,
    transcript: (sessionKey) => sessions.transcript(sessionKey),
    setMode: (next) => {
      mode = next;
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Waited sends hold their connection open; do not let close() wait for them.
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
