import { Agent } from 'undici';
import { networkProblem, readBounded, requestVia } from '../transport/index.js';

/** What a ZeroTier API answered: status, headers, and the body parsed as JSON when it is JSON. */
export interface JsonResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed body; `undefined` when the body is empty or not JSON (see `text`). */
  body: unknown;
  text: string;
}

export interface JsonRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
}

/** Both APIs answer a few KB; a body larger than this is not a ZeroTier answer. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/**
 * One HTTP exchange with a ZeroTier API. Network errors are thrown as undici raises them: the caller knows
 * which API it talked to and turns them into the right OisError.
 */
export class JsonHttp {
  private agent: Agent | null = null;

  constructor(private readonly connectTimeoutMs: number) {}

  async send(req: JsonRequest): Promise<JsonResponse> {
    this.agent ??= new Agent({ connect: { timeout: this.connectTimeoutMs } });
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    let payload: string | undefined;
    if (req.body !== undefined) {
      payload = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    const res = await requestVia(this.agent, req.url, {
      method: req.method,
      headers,
      ...(payload === undefined ? {} : { body: payload }),
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    });
    const text = (await readBounded(res.body, MAX_BODY_BYTES)).toString('utf8');
    let body: unknown;
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    return { status: res.statusCode, headers: res.headers, body, text };
  }

  async close(): Promise<void> {
    const agent = this.agent;
    this.agent = null;
    await agent?.destroy().catch(() => {});
  }
}

/** The errno-like code of a network error from undici (`ECONNREFUSED`, `UND_ERR_HEADERS_TIMEOUT`, …). */
export function errorCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } } | undefined;
  return e?.code ?? e?.cause?.code;
}

/** A short description of a network error for messages about the ZeroTier service or Central. */
export function describeNetworkError(err: unknown): string {
  return networkProblem(err, false);
}

/** `http://user:secret@host/x` → `http://host/x`: URLs go into messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid URL)';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
