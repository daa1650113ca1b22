import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

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
 * Plain node:http on purpose: it starts in a few milliseconds and does exactly what we tell it.
 */

export const DEFAULT_SIMULATOR_BODY_BYTES = 2 * 1024 * 1024;

export interface FailedAuthLimit {
  /** Failures allowed per client IP within `windowMs` before the lockout starts. */
  max: number;
  windowMs: number;
  lockoutMs: number;
  /** The real gateway does not rate-limit loopback clients by default. */
  exemptLoopback: boolean;
}

export const DEFAULT_FAILED_AUTH_LIMIT: FailedAuthLimit = {
  max: 10,
  windowMs: 60_000,
  lockoutMs: 5 * 60_000,
  exemptLoopback: true,
};

export type GatewaySimulatorMode = 'normal' | 'suspending' | 'starting';

export interface GatewaySimulatorOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** The gateway's bearer token (`gateway.auth.token`). */
  token: string;
  /** Default true. False answers 404 "Tool not available: sessions_send", like a default-config gateway. */
  allowSessionsSend?: boolean;
  /** Configured agents; default ['main']. Their `agent:<id>:main` sessions are created on demand. */
  agentIds?: string[];
  /** Other session keys that already exist. */
  sessions?: string[];
  /** The assistant's answer to a waited send; null means it chose not to reply. Default: a short echo. */
  reply?: (message: string, sessionKey: string) => string | null | Promise<string | null>;
  /** How long the assistant takes to answer a waited send. Longer than the send's timeout => "timeout". */
  replyDelayMs?: number;
  /**
   * 'suspending' answers 503 on /tools/invoke, as a gateway that is restarting does. 'starting' is the
   * window (seen on real 2026.9.6 gateways) where /health already answers but /startupz is 503 and
   * sessions_send fails with "sessions.create unavailable during gateway startup".
   */
  mode?: GatewaySimulatorMode;
  failedAuthLimit?: FailedAuthLimit;
  /** Largest request body accepted (413 above it). Default 2 MiB, as the real gateway. */
  maxBodyBytes?: number;
  /** Called for every message that reaches a session. */
  onMessage?: (m: { sessionKey: string; message: string; at: Date }) => void;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** Request headers; the authorization value is replaced by '[redacted]'. */
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body (undefined when there was none or it was not JSON). */
  body: unknown;
  /** The status the simulator answered with (undefined while the request is still open). */
  status?: number;
  at: Date;
}

export interface TranscriptMessage {
  role: 'user' | 'assistant';
  /** Plain text (not in the reference: real transcripts may hold content blocks). */
  content: string;
  /** Present on messages that arrived through sessions_send. */
  provenance?: { kind: 'inter_session'; sourceSessionKey?: string; sourceTool: 'sessions_send' };
  senderLabel?: string;
  timestamp: number;
}

export interface GatewaySimulator {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  port: number;
  /** Every request received, in arrival order. */
  requests: RecordedRequest[];
  /** Messages in a session so far (a copy). Unknown sessions give []. */
  transcript(sessionKey: string): TranscriptMessage[];
  setMode(mode: GatewaySimulatorMode): void;
  close(): Promise<void>;
}

type JsonObject = Record<string, unknown>;

interface ToolResult {
  content: { type: 'text'; text: string }[];
  details: unknown;
}

/** OpenClaw's `jsonResult`: the payload both as details and as pretty-printed JSON text. */
function jsonResult(payload: unknown): ToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(payload, null, 2) }], details: payload };
}

function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Starts the simulator; resolves once it listens. */
export async function startGatewaySimulator(opts: GatewaySimulatorOptions): Promise<GatewaySimulator> {
  if (!opts.token) throw new Error('gateway simulator: a token is required');
  const tokenBytes = Buffer.from(opts.token, 'utf8');
  const allowSessionsSend = opts.allowSessionsSend ?? true;
  const agentIds = opts.agentIds ?? ['main'];
  const limit = opts.failedAuthLimit ?? DEFAULT_FAILED_AUTH_LIMIT;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_SIMULATOR_BODY_BYTES;
  const replyFn = opts.reply ?? ((message: string) => `Echo: ${message.slice(0, 200)}`);
  let mode: GatewaySimulatorMode = opts.mode ?? 'normal';
  const startedAt = Date.now();

  const requests: RecordedRequest[] = [];
  const transcripts = new Map<string, TranscriptMessage[]>();
  for (const key of opts.sessions ?? []) transcripts.set(key, []);
  const failures = new Map<string, { times: number[]; lockedUntil: number }>();
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();

  const mainKeyOf = (agentId: string) => `agent:${agentId}:main`;
  const sessionExists = (key: string) => transcripts.has(key) || agentIds.some((id) => mainKeyOf(id) === key);
  const sessionLog = (key: string): TranscriptMessage[] => {
    let log = transcripts.get(key);
    if (!log) {
      log = [];
      transcripts.set(key, log);
    }
    return log;
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  function send(
    res: ServerResponse,
    record: RecordedRequest,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    record.status = status;
    if (res.writableEnded || res.destroyed) return;
    res.statusCode = status;
    // The real gateway sets these on every response.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    if (typeof body === 'string') {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(body);
    } else {
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(body));
    }
  }

  /** Failed-auth lockout as the real gateway does it: per client IP, loopback exempt by default. */
  function lockedOutMs(ip: string | undefined, now: number): number {
    if (limit.exemptLoopback && isLoopback(ip)) return 0;
    const entry = failures.get(ip ?? '');
    return entry && entry.lockedUntil > now ? entry.lockedUntil - now : 0;
  }

  function recordFailure(ip: string | undefined, now: number): void {
    if (limit.exemptLoopback && isLoopback(ip)) return;
    const key = ip ?? '';
    const entry = failures.get(key) ?? { times: [], lockedUntil: 0 };
    entry.times = entry.times.filter((t) => now - t < limit.windowMs);
    entry.times.push(now);
    if (entry.times.length >= limit.max) {
      entry.lockedUntil = now + limit.lockoutMs;
      entry.times = [];
    }
    failures.set(key, entry);
  }

  function authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^bearer\s+(.+)$/i.exec(header.trim()) : null;
    if (!match?.[1]) return false;
    const given = Buffer.from(match[1].trim(), 'utf8');
    return given.length === tokenBytes.length && timingSafeEqual(given, tokenBytes);
  }

  /** Reads the whole body; null when it is over the limit (the rest is drained, not kept). */
  async function readBody(req: IncomingMessage): Promise<Buffer | null> {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBodyBytes) tooLarge = true;
      // Keep reading so the client gets its 413 instead of a reset on unread data.
      if (!tooLarge) chunks.push(chunk);
    }
    return tooLarge ? null : Buffer.concat(chunks);
  }

  function deliver(sessionKey: string, message: string, callerKey: string): void {
    const at = new Date();
    sessionLog(sessionKey).push({
      role: 'user',
      content: message,
      provenance: { kind: 'inter_session', sourceSessionKey: callerKey, sourceTool: 'sessions_send' },
      senderLabel: `Forwarded from ${agentOf(callerKey)}`,
      timestamp: at.getTime(),
    });
    opts.onMessage?.({ sessionKey, message, at });
  }

  function agentOf(sessionKey: string): string {
    const parts = sessionKey.split(':');
    return parts[0] === 'agent' && parts[1] ? parts[1] : 'main';
  }

  async function sessionsSend(args: JsonObject, callerKey: string): Promise<ToolResult | ToolError> {
    const message = ['message', 'content', 'text']
      .map((name) => args[name])
      .find((v): v is string => typeof v === 'string' && v.trim() !== '');
    if (message === undefined) return new ToolError('message required');
    if (mode === 'starting') {
      return jsonResult({ status: 'error', error: 'sessions.create unavailable during gateway startup' });
    }
    const rawTimeout = args.timeoutSeconds;
    const timeoutSeconds =
      typeof rawTimeout === 'number' && Number.isFinite(rawTimeout) && rawTimeout >= 0
        ? Math.floor(rawTimeout)
        : 30;

    let sessionKey = typeof args.sessionKey === 'string' && args.sessionKey ? args.sessionKey : undefined;
    if (!sessionKey && typeof args.label === 'string' && args.label) {
      // (not in the reference) labels are not modelled: no session ever has one.
      return jsonResult({
        runId: randomUUID(),
        status: 'error',
        error: `No session found with label: ${args.label}`,
      });
    }
    if (!sessionKey && typeof args.agentId === 'string' && args.agentId) {
      if (!agentIds.includes(args.agentId)) {
        return jsonResult({
          runId: randomUUID(),
          status: 'error',
          error: `agent not found: ${args.agentId}`,
        });
      }
      sessionKey = mainKeyOf(args.agentId);
    }
    if (!sessionKey) {
      return jsonResult({
        runId: randomUUID(),
        status: 'error',
        error: 'Either sessionKey or label is required',
      });
    }
    if (sessionKey === 'main') sessionKey = mainKeyOf('main');
    if (!sessionExists(sessionKey)) {
      return jsonResult({ runId: randomUUID(), status: 'error', error: `No session found: ${sessionKey}` });
    }

    const runId = randomUUID();
    if (timeoutSeconds === 0) {
      deliver(sessionKey, message, callerKey);
      return jsonResult({
        runId,
        status: 'accepted',
        sessionKey,
        targetDisposition: 'queued',
        delivery: { status: 'pending', mode: 'announce' },
      });
    }

    if (sessionKey === callerKey) {
      return jsonResult({
        runId,
        status: 'error',
        error: 'sessions_send cannot target the calling session',
        sessionKey,
      });
    }

    deliver(sessionKey, message, callerKey);
    const timeoutMs = timeoutSeconds * 1000;
    const delayMs = opts.replyDelayMs ?? 0;
    if (delayMs > timeoutMs) {
      await sleep(timeoutMs);
      // (not in the reference) the exact wording of the timeout error.
      return jsonResult({
        runId,
        status: 'timeout',
        error: `timed out after ${timeoutSeconds}s waiting for a reply`,
        sentBeforeError: true,
        sessionKey,
      });
    }
    if (delayMs > 0) await sleep(delayMs);
    const reply = await replyFn(message, sessionKey);
    if (reply === null) {
      // (not in the reference) shape of no_reply, modelled on the ok answer without `reply`.
      return jsonResult({
        runId,
        status: 'no_reply',
        sessionKey,
        delivery: { status: 'delivered', mode: 'announce' },
      });
    }
    sessionLog(sessionKey).push({ role: 'assistant', content: reply, timestamp: Date.now() });
    return jsonResult({
      runId,
      status: 'ok',
      reply,
      sessionKey,
      delivery: { status: 'delivered', mode: 'announce' },
    });
  }

  function sessionsHistory(args: JsonObject): ToolResult | ToolError {
    const sessionKey = typeof args.sessionKey === 'string' ? args.sessionKey : '';
    if (!sessionKey) return new ToolError('sessionKey required');
    if (!sessionExists(sessionKey)) {
      return jsonResult({ status: 'error', error: `No session found: ${sessionKey}` });
    }
    const all = transcripts.get(sessionKey) ?? [];
    const max = typeof args.limit === 'number' && args.limit > 0 ? Math.floor(args.limit) : all.length;
    // (not in the reference) the shape of the history answer.
    return jsonResult({ sessionKey, messages: all.slice(-max) });
  }

  function sessionStatus(callerKey: string): ToolResult {
    // (not in the reference) a small status object; OIS only needs the 200.
    return jsonResult({
      sessionKey: callerKey,
      agentId: agentOf(callerKey),
      status: 'idle',
      model: 'simulator/echo',
      simulator: true,
    });
  }

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
    const locked = lockedOutMs(ip, now);
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
    if (!authorized(req)) {
      recordFailure(ip, now);
      req.resume();
      send(res, record, 401, { error: { message: 'Unauthorized', type: 'unauthorized' } });
      return;
    }

    const raw = await readBody(req);
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
    const callerKey = !outer || outer === 'main' ? mainKeyOf(defaultAgent) : outer;
    const args = isRecord(input.args) ? input.args : {};

    let result: ToolResult | ToolError;
    switch (toolName) {
      case 'sessions_send':
        if (!allowSessionsSend) {
          notFound(res, record, toolName);
          return;
        }
        result = await sessionsSend(args, callerKey);
        break;
      case 'sessions_history':
        result = sessionsHistory(args);
        break;
      case 'session_status':
        result = sessionStatus(callerKey);
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
    transcript: (sessionKey) => (transcripts.get(sessionKey) ?? []).map((m) => ({ ...m })),
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

/** A tool that threw: the gateway answers 400 tool_error with its message. */
class ToolError {
  constructor(readonly message: string) {}
}
