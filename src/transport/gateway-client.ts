// The only undici import in OIS's send path: `ois send` runs once per message, so it loads one module graph.
import { Agent, type Dispatcher } from 'undici';
import { isOisError, OisError } from '../errors.js';
import { AttemptFailure, postOnce, type RawResponse } from './http-attempt.js';
import { parseRetryAfter, Retryable, retryPolicy, withRetries } from './retry.js';

/**
 * Client for a peer OpenClaw gateway's `POST /tools/invoke` (see shared/reference/openclaw-gateway.md).
 *
 * Retries follow the transport's one policy (retry.ts: retry only what provably did not take effect). A
 * connection that was refused, never resolved, timed out while connecting or broke before the request body
 * was written is retried with exponential backoff; 429 and 503 are retried after their Retry-After.
 * Everything else is final. A 401 in particular is never retried: the gateway locks a client out after
 * repeated failures. A failure after the body was written is "delivery unknown": the message may have
 * arrived.
 */

export const MAX_GATEWAY_BODY_BYTES = 2 * 1024 * 1024;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_TIMEOUT_MS = 15_000;
/** Outer (calling) session for waited sends; a waited send cannot target its own calling session. */
export const DEFAULT_CALLER_SESSION_KEY = 'agent:main:ois';
/** A gateway answer bigger than this is not read (a reply is text; 8 MiB is far beyond any real one). */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export interface GatewayTarget {
  /** Gateway base URL, e.g. http://10.147.17.5:18789 (a path prefix and a trailing slash are fine). */
  url: string;
  /** Gateway bearer token. Never logged and never part of an error. */
  token: string;
  /** Session that receives the message, e.g. agent:main:main. */
  sessionKey: string;
}

export interface RequestOptions {
  /** Default 5000. */
  connectTimeoutMs?: number;
  /**
   * Time allowed for the answer's headers and then between body chunks. Default 15000; for a waited
   * send it is added to the wait (waitSeconds * 1000 + timeoutMs), so the gateway's own wait ends first.
   */
  timeoutMs?: number;
  /** Retries of a failure that provably did not take effect. Default 3. */
  retries?: number;
  /** First backoff delay (doubles each retry, randomised). Default 500. */
  minRetryDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the call fails with OIS_ERR_PEER_BUSY. Default 30000. */
  maxRetryAfterMs?: number;
  signal?: AbortSignal;
  /**
   * A long-lived dispatcher to reuse (the daemon keeps its connection to its own gateway open); by default
   * each call has its own, destroyed when it ends, so a one-shot `ois send` exits at once.
   */
  dispatcher?: Dispatcher;
  /** The OIS message id, carried in error details so a caller can report an unknown delivery. */
  messageId?: string;
}

export interface SendOptions extends RequestOptions {
  message: string;
  /** Seconds the gateway waits for the assistant's reply. Undefined or 0: fire-and-forget. */
  waitSeconds?: number;
  /** Outer sessionKey of a waited send. Default 'agent:main:ois'. */
  callerSessionKey?: string;
}

export interface InvokeOptions extends RequestOptions {
  /** Outer (calling) sessionKey; omitted by default, so the gateway uses its main session. */
  sessionKey?: string;
}

export type SendResult =
  | { status: 'accepted'; runId?: string; seconds: number; attempts: number }
  | { status: 'ok'; reply: string; runId?: string; seconds: number; attempts: number }
  | { status: 'no_reply' | 'timeout'; runId?: string; seconds: number; attempts: number };

type JsonObject = Record<string, unknown>;

interface Endpoint {
  origin: string;
  path: string;
  /** The URL as shown in messages: no credentials, no query. */
  display: string;
}

interface CallContext {
  url: string;
  tool: string;
  messageId: string | undefined;
  timeoutMs: number;
  connectTimeoutMs: number;
}

/** A 429 or 503: retried after Retry-After while retries last. */
class PeerBusy extends Retryable {
  constructor(
    readonly status: number,
    readonly gatewayMessage: string,
    retryAfterMs: number | undefined,
  ) {
    super(`HTTP ${status}: ${gatewayMessage}`, retryAfterMs);
  }
}

/** A connection-level failure before the body was written: retried with backoff while retries last. */
class NotSent extends Retryable {
  constructor(readonly failure: AttemptFailure) {
    super(failure.message);
  }
}

/**
 * Delivers `message` into `target.sessionKey` with `sessions_send`.
 *
 * @example
 * const r = await sessionsSend({ url: 'http://10.147.17.5:18789', token, sessionKey: 'agent:main:main' },
 *   { message: '[ois] from alice (id 01J…): hello' });
 * // r.status === 'accepted'
 */
export async function sessionsSend(target: GatewayTarget, options: SendOptions): Promise<SendResult> {
  const started = performance.now();
  if (typeof options.message !== 'string' || options.message.trim() === '') {
    throw new OisError('OIS_ERR_MESSAGE_EMPTY', 'the message is empty');
  }
  const rawWait = options.waitSeconds ?? 0;
  if (!Number.isFinite(rawWait) || rawWait < 0) {
    throw new OisError('OIS_ERR_USAGE', `waitSeconds must be a number >= 0, got ${rawWait}`);
  }
  // The gateway's schema takes whole seconds.
  const waitSeconds = Math.ceil(rawWait);
  const args = { sessionKey: target.sessionKey, message: options.message, timeoutSeconds: waitSeconds };
  const payload =
    waitSeconds > 0
      ? { tool: 'sessions_send', args, sessionKey: options.callerSessionKey ?? DEFAULT_CALLER_SESSION_KEY }
      : { tool: 'sessions_send', args };
  const timeoutMs = waitSeconds * 1000 + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);

  const { result, attempts, ctx } = await invoke(target, payload, options, timeoutMs);
  const details = toolDetails(result);
  const seconds = elapsedSeconds(started);
  const status = details?.status;
  const runId = typeof details?.runId === 'string' ? details.runId : undefined;
  const base = { seconds, attempts, ...(runId === undefined ? {} : { runId }) };
  const words = typeof details?.error === 'string' && details.error ? details.error : undefined;
  const facts = errorDetails(ctx, 200, { attempts, ...(runId === undefined ? {} : { runId }) });

  switch (status) {
    case 'accepted':
      return { status: 'accepted', ...base };
    case 'ok':
      // A reply that is not text means the assistant produced none.
      return typeof details?.reply === 'string'
        ? { status: 'ok', reply: details.reply, ...base }
        : { status: 'no_reply', ...base };
    case 'no_reply':
    case 'timeout':
      return { status, ...base };
    case 'error':
      // `sentBeforeError`: the message reached the session, then the assistant's run failed (no model, say).
      if (details?.sentBeforeError === true) {
        throw new OisError(
          'OIS_ERR_PEER_REJECTED',
          `peer gateway ${ctx.url} took the message into the session, but its assistant failed: ${words ?? 'agent error'}`,
          {
            hint: "the message was delivered; the peer's assistant could not answer (check its model setup)",
            details: { ...facts, delivered: true },
          },
        );
      }
      if (words?.startsWith('No session found')) {
        throw new OisError(
          'OIS_ERR_PEER_SESSION_UNKNOWN',
          `peer gateway ${ctx.url} has no session ${target.sessionKey}: ${words}`,
          {
            hint: `only agent:<id>:main keys are created on demand; fix gateway.sessionKey in the peer's AGENTS.md entry (the peer runs ois init --session-key KEY, then ois join)`,
            details: facts,
          },
        );
      }
      throw new OisError(
        'OIS_ERR_PEER_REJECTED',
        `peer gateway ${ctx.url} refused the message: ${words ?? 'sessions_send failed'}`,
        {
          hint: "read the peer gateway's words above; its log has the details",
          details: facts,
        },
      );
    case 'forbidden':
      throw new OisError(
        'OIS_ERR_PEER_FORBIDDEN',
        `peer gateway ${ctx.url} forbids this send: ${words ?? 'forbidden'}`,
        { hint: "the peer's session visibility or agent-to-agent policy blocks it", details: facts },
      );
    default:
      throw new OisError(
        'OIS_ERR_PEER_PROTOCOL',
        `peer gateway ${ctx.url} answered sessions_send with an unexpected status ${JSON.stringify(status ?? null)}`,
        { hint: 'OIS expects openclaw 2026.9.6; check the peer gateway version', details: facts },
      );
  }
}

/**
 * Calls any tool through `/tools/invoke` with the same transport and retry policy as `sessionsSend`, and
 * returns the tool's `result.details` (or the whole `result` when the tool gave no details). Tool-level
 * failures inside a 200 are left to the caller to read.
 *
 * @example
 * const status = await invokeTool(target, 'session_status', {}, { timeoutMs: 5000 });
 */
export async function invokeTool(
  target: GatewayTarget,
  tool: string,
  args: Record<string, unknown> = {},
  options: InvokeOptions = {},
): Promise<unknown> {
  const payload =
    options.sessionKey === undefined ? { tool, args } : { tool, args, sessionKey: options.sessionKey };
  const { result } = await invoke(target, payload, options, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  return toolDetails(result) ?? result;
}

async function invoke(
  target: GatewayTarget,
  payload: { tool: string } & JsonObject,
  options: RequestOptions,
  timeoutMs: number,
): Promise<{ result: JsonObject; attempts: number; ctx: CallContext }> {
  const endpoint = resolveEndpoint(target.url);
  checkToken(target.token);
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const ctx: CallContext = {
    url: endpoint.display,
    tool: payload.tool,
    messageId: options.messageId,
    timeoutMs,
    connectTimeoutMs,
  };
  // Measured on the exact bytes that go on the wire: the gateway's 2 MiB limit counts bytes, not characters.
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  if (body.length > MAX_GATEWAY_BODY_BYTES) {
    throw new OisError(
      'OIS_ERR_MESSAGE_TOO_LARGE',
      `the request would be ${body.length} bytes; an OpenClaw gateway accepts at most ${MAX_GATEWAY_BODY_BYTES}`,
      {
        hint: 'shorten the message, or put the content in shared/ and send its path',
        details: { bytes: body.length, max: MAX_GATEWAY_BODY_BYTES, ...messageIdOf(ctx) },
      },
    );
  }
  const signal = options.signal;
  const headers = {
    authorization: `Bearer ${target.token}`,
    'content-type': 'application/json',
    accept: 'application/json',
  };

  // One dispatcher per call: its connect timeout is per call, retries reuse its kept-alive connection, and
  // destroying it when the call ends leaves no socket holding a one-shot `ois send` process open.
  const owned = options.dispatcher === undefined;
  const agent = options.dispatcher ?? new Agent({ connect: { timeout: connectTimeoutMs } });
  let attempts = 0;
  let lastBodySent = false;
  try {
    const result = await withRetries(
      retryPolicy(options),
      async () => {
        attempts++;
        let response: RawResponse;
        try {
          response = await postOnce(
            agent,
            {
              origin: endpoint.origin,
              path: endpoint.path,
              headers,
              body,
              headersTimeout: timeoutMs,
              bodyTimeout: timeoutMs,
              maxResponseBytes: MAX_RESPONSE_BYTES,
            },
            signal,
          );
        } catch (err) {
          if (!(err instanceof AttemptFailure)) throw internalError(ctx, err);
          lastBodySent = err.bodySent;
          throw classifyFailure(err, ctx, attempts);
        }
        lastBodySent = true;
        return interpret(response, ctx, attempts);
      },
      signal,
    );
    return { result, attempts, ctx };
  } catch (err) {
    if (signal?.aborted) throw interruptedError(ctx, lastBodySent, attempts, signal.reason);
    if (isOisError(err)) throw err;
    if (err instanceof PeerBusy) throw busyError(ctx, err, attempts);
    if (err instanceof NotSent) throw unreachableError(ctx, err.failure, attempts);
    throw internalError(ctx, err);
  } finally {
    if (owned) await agent.destroy().catch(() => {});
  }
}

/** Reads one complete HTTP answer: returns the 200 `result`, or throws (a PeerBusy may be retried). */
function interpret(response: RawResponse, ctx: CallContext, attempts: number): JsonObject {
  const status = response.statusCode;
  const text = response.body.toString('utf8');
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  const error = isRecord(json) && isRecord(json.error) ? json.error : undefined;
  const words = typeof error?.message === 'string' && error.message ? error.message : undefined;
  const said = words ?? snippet(text);
  const facts = errorDetails(ctx, status, {
    attempts,
    ...(typeof error?.type === 'string' ? { type: error.type } : {}),
  });

  if (status === 200) {
    if (isRecord(json) && json.ok === true && isRecord(json.result)) {
      // Seen on real 2026.9.6 gateways: /health answers before startup is done, and a send in that window
      // comes back as a tool error. Nothing was delivered, so it is retried like a 503.
      const details = json.result.details;
      if (isRecord(details) && details.status === 'error' && typeof details.error === 'string') {
        if (/unavailable during gateway startup/i.test(details.error))
          throw new PeerBusy(200, details.error, 1000);
      }
      return json.result;
    }
    throw new OisError(
      'OIS_ERR_PEER_PROTOCOL',
      `peer gateway ${ctx.url} answered 200 with ${json === undefined ? 'a body that is not JSON' : 'an unexpected JSON body'}: ${snippet(text)}`,
      { hint: `check that ${ctx.url} is an OpenClaw gateway (openclaw 2026.9.6)`, details: facts },
    );
  }
  if (status === 429 || status === 503) {
    // Retried after its Retry-After; one longer than the policy allows comes back as is (busyError).
    throw new PeerBusy(status, said, parseRetryAfter(response.headers['retry-after']));
  }
  if (status === 401) {
    throw new OisError('OIS_ERR_PEER_AUTH', `peer gateway ${ctx.url} refused the token: ${said} (HTTP 401)`, {
      hint: "check the token stored for this peer (the peer's gateway.auth.token); OIS does not retry a 401 because the gateway locks out repeated failures",
      details: facts,
    });
  }
  if (status === 404 && words?.startsWith('Tool not available')) {
    throw new OisError(
      'OIS_ERR_PEER_TOOL_DENIED',
      `peer gateway ${ctx.url} does not offer ${ctx.tool} over HTTP: ${words} (HTTP 404)`,
      {
        hint: `add "gateway": {"tools": {"allow": ["${ctx.tool}"]}} to the peer's openclaw.json and restart its gateway`,
        details: facts,
      },
    );
  }
  if (status === 413) {
    throw new OisError(
      'OIS_ERR_PEER_TOO_LARGE',
      `peer gateway ${ctx.url} refused the request as too large: ${said} (HTTP 413)`,
      {
        hint: 'shorten the message, or put the content in shared/ and send its path',
        details: facts,
      },
    );
  }
  if (status === 400 || status === 403 || status === 405 || status === 408) {
    throw new OisError(
      'OIS_ERR_PEER_REJECTED',
      `peer gateway ${ctx.url} rejected the request: ${said} (HTTP ${status})`,
      {
        hint: "read the peer gateway's words above; its log has the details",
        details: facts,
      },
    );
  }
  if (status >= 500) {
    throw new OisError('OIS_ERR_PEER_ERROR', `peer gateway ${ctx.url} failed: ${said} (HTTP ${status})`, {
      hint: 'the peer gateway had an internal error; its log says why',
      details: facts,
    });
  }
  throw new OisError('OIS_ERR_PEER_PROTOCOL', `peer gateway ${ctx.url} answered HTTP ${status}: ${said}`, {
    hint: `check that ${ctx.url} is the address of an OpenClaw gateway (openclaw 2026.9.6)`,
    details: facts,
  });
}

/** Connection errors worth another try when nothing was written yet. */
const RETRYABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** A failed attempt as what to throw: NotSent is retried; an OisError is final. */
function classifyFailure(failure: AttemptFailure, ctx: CallContext, attempts: number): NotSent | OisError {
  const code = errorCodeOf(failure.error);
  if (failure.bodySent) {
    const what = TIMEOUT_CODES.has(code ?? '')
      ? `no answer within ${formatSeconds(ctx.timeoutMs)}`
      : `the connection broke (${describeFailure(code, failure.error, ctx)})`;
    return new OisError(
      'OIS_ERR_DELIVERY_UNKNOWN',
      `sent the request to peer gateway ${ctx.url} but ${what}; the message may have arrived`,
      {
        hint: 'do not resend blindly: check the chat log or ask the peer first',
        cause: failure.error,
        details: errorDetails(ctx, undefined, { attempts, ...(code ? { error: code } : {}) }),
      },
    );
  }
  if (code !== undefined && RETRYABLE_CODES.has(code)) return new NotSent(failure);
  // Nothing was sent, but retrying cannot help (a TLS certificate problem, say).
  return unreachableError(ctx, failure, attempts);
}

function unreachableError(ctx: CallContext, failure: AttemptFailure, attempts: number): OisError {
  const code = errorCodeOf(failure.error);
  return new OisError(
    'OIS_ERR_PEER_UNREACHABLE',
    `cannot reach peer gateway ${ctx.url}: ${describeFailure(code, failure.error, ctx)} (${attempts} attempt${attempts === 1 ? '' : 's'}); the message was not delivered`,
    {
      hint: `check that the peer's gateway is running and reachable over ZeroTier (try: curl ${ctx.url}/health)`,
      cause: failure.error,
      details: errorDetails(ctx, undefined, { attempts, ...(code ? { error: code } : {}) }),
    },
  );
}

function busyError(ctx: CallContext, busy: PeerBusy, attempts: number): OisError {
  const retryAfterSeconds = busy.retryAfterMs === undefined ? undefined : Math.ceil(busy.retryAfterMs / 1000);
  const retryAt =
    retryAfterSeconds === undefined
      ? undefined
      : new Date(Date.now() + retryAfterSeconds * 1000).toISOString();
  const when =
    retryAfterSeconds === undefined ? 'retry later' : `retry after ${retryAfterSeconds} s (${retryAt})`;
  return new OisError(
    'OIS_ERR_PEER_BUSY',
    `peer gateway ${ctx.url} is busy: ${busy.gatewayMessage}${busy.status === 200 ? '' : ` (HTTP ${busy.status})`}; ${when}; the message was not delivered`,
    {
      hint:
        busy.status === 429
          ? 'the gateway locked this address out after failed logins; check the token, then retry after the lockout'
          : busy.status === 200
            ? 'the peer gateway is still starting; retry in a few seconds'
            : 'the peer gateway is restarting or suspending; retry shortly',
      details: errorDetails(ctx, busy.status, {
        attempts,
        ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds, retryAt }),
      }),
    },
  );
}

function interruptedError(ctx: CallContext, bodySent: boolean, attempts: number, reason: unknown): OisError {
  return new OisError(
    'OIS_ERR_INTERRUPTED',
    bodySent
      ? `interrupted after the request to ${ctx.url} was sent; the message may have arrived`
      : `interrupted before the message reached ${ctx.url}`,
    { cause: reason, details: errorDetails(ctx, undefined, { attempts, bodySent }) },
  );
}

function internalError(ctx: CallContext, err: unknown): OisError {
  return new OisError(
    'OIS_ERR_INTERNAL',
    `calling peer gateway ${ctx.url} failed unexpectedly: ${String(err)}`,
    {
      cause: err,
      details: errorDetails(ctx, undefined, {}),
    },
  );
}

function errorDetails(ctx: CallContext, status: number | undefined, extra: JsonObject): JsonObject {
  return { url: ctx.url, ...(status === undefined ? {} : { status }), ...messageIdOf(ctx), ...extra };
}

function messageIdOf(ctx: CallContext): JsonObject {
  return ctx.messageId === undefined ? {} : { messageId: ctx.messageId };
}

function describeFailure(code: string | undefined, err: Error, ctx: CallContext): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
      return 'host name not found (DNS)';
    case 'EAI_AGAIN':
      return 'DNS lookup failed (temporary)';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `no connection within ${formatSeconds(ctx.connectTimeoutMs)}`;
    case 'ECONNRESET':
      return 'connection reset by the peer';
    case 'UND_ERR_SOCKET':
      return 'connection closed by the peer';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to the host';
    default:
      return code ? `${err.message} (${code})` : err.message;
  }
}

function errorCodeOf(err: Error): string | undefined {
  const withCode = err as Error & { code?: unknown; errors?: unknown[] };
  if (typeof withCode.code === 'string') return withCode.code;
  // Happy-eyeballs connects report an AggregateError of per-address failures.
  const first = Array.isArray(withCode.errors)
    ? (withCode.errors[0] as { code?: unknown } | undefined)
    : undefined;
  if (typeof first?.code === 'string') return first.code;
  const cause = err.cause as { code?: unknown } | undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

function resolveEndpoint(raw: string): Endpoint {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The URL string itself is not echoed: a badly pasted one could hold a secret.
    throw new OisError('OIS_ERR_CONFIG_INVALID', 'the peer gateway URL is not a valid URL', {
      hint: 'use the form http://<zerotier-ip>:18789',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OisError(
      'OIS_ERR_CONFIG_INVALID',
      `the peer gateway URL must be http or https, not ${url.protocol}`,
      {
        hint: 'use the form http://<zerotier-ip>:18789',
      },
    );
  }
  const base = url.pathname.replace(/\/+$/, '');
  const path = `${base}/tools/invoke`;
  return { origin: url.origin, path, display: `${url.origin}${base}` };
}

function checkToken(token: string): void {
  if (typeof token !== 'string' || token === '') {
    throw new OisError('OIS_ERR_TOKEN_MISSING', 'no gateway token for this peer', {
      hint: "store the peer gateway's token in this instance's secrets",
    });
  }
  // Control characters or spaces would break (or smuggle) the header; say so without echoing the token.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new OisError(
      'OIS_ERR_SECRETS_INVALID',
      'the gateway token for this peer contains invalid characters',
      {
        hint: 'a gateway token is printable ASCII without spaces; check for a stray newline',
      },
    );
  }
}

function toolDetails(result: JsonObject): JsonObject | undefined {
  if (isRecord(result.details)) return result.details;
  // Without structured details, OpenClaw's tools put the same JSON in the first text block.
  const first = Array.isArray(result.content) ? (result.content[0] as unknown) : undefined;
  if (isRecord(first) && typeof first.text === 'string') {
    try {
      const parsed: unknown = JSON.parse(first.text);
      if (isRecord(parsed)) return parsed;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short, single-line excerpt of a body that was not the expected JSON. */
function snippet(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line === '') return '(empty body)';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

function elapsedSeconds(started: number): number {
  return Math.round(performance.now() - started) / 1000;
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
