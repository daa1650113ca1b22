import type { Env } from '../config/index.js';
import { OisError } from '../errors.js';
import { parseRetryAfter } from '../transport/index.js';
import { describeNetworkError, isObject, JsonHttp, type JsonResponse, safeUrl, sleep } from './http.js';
import { isNodeId } from './ids.js';
import { type CentralNetwork, type Member, type MemberUpdate, ONLINE_WINDOW_MS } from './types.js';

export const DEFAULT_CENTRAL_URL = 'https://api.zerotier.com/api/v1';

export interface CentralOptions {
  /** A Central API token (from my.zerotier.com → Account → API Access Tokens). */
  token: string;
  /** Default `ZEROTIER_CENTRAL_URL` from `env`, else {@link DEFAULT_CENTRAL_URL}. */
  baseUrl?: string;
  env?: Env;
  timeoutMs?: number;
  /** Attempts after the first for a 429 or a transient failure (default 3). */
  retries?: number;
  /** First backoff step when the answer names no wait (default 500 ms, doubled per attempt). */
  retryDelayMs?: number;
  /** The longest single wait for the rate limit; a longer one fails with OIS_ERR_ZT_RATE_LIMITED (10 s). */
  maxWaitMs?: number;
  now?: () => number;
}

/** Central's base URL: the option, else `ZEROTIER_CENTRAL_URL`, else the public API. */
export function centralUrl(env: Env = {}, baseUrl?: string): string {
  return (baseUrl ?? env.ZEROTIER_CENTRAL_URL ?? DEFAULT_CENTRAL_URL).replace(/\/+$/, '');
}

/** A member counts as online when it checked in within {@link ONLINE_WINDOW_MS} (`online` was removed). */
export function isRecentlySeen(lastSeen: number | null, now: number): boolean | null {
  if (lastSeen === null) return null;
  return now - lastSeen <= ONLINE_WINDOW_MS;
}

/**
 * ZeroTier Central REST API v1. Honours the rate-limit headers (waits for the reset when `Remaining` hits 0),
 * retries 429 and transient failures with backoff, and never retries 401/403/404.
 */
export class CentralClient {
  readonly baseUrl: string;
  private readonly http: JsonHttp;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly maxWaitMs: number;
  private readonly now: () => number;
  /** From the last answer: when the window resets (ms since epoch) if no request is left in it. */
  private blockedUntil = 0;

  constructor(options: CentralOptions) {
    this.baseUrl = centralUrl(options.env, options.baseUrl);
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retries = options.retries ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 500;
    this.maxWaitMs = options.maxWaitMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.http = new JsonHttp(this.timeoutMs);
  }

  /** The networks the token's account can see. */
  async networks(): Promise<CentralNetwork[]> {
    const b = await this.call('GET', '/network');
    if (!Array.isArray(b)) throw this.protocol('/network', 'not a list');
    return b.map((n) => networkOf(n)).filter((n): n is CentralNetwork => n !== null);
  }

  /** One network; null when Central does not know it (404). */
  async network(networkId: string): Promise<CentralNetwork | null> {
    const b = await this.call('GET', `/network/${networkId}`, undefined, true);
    if (b === NOT_FOUND) return null;
    const n = networkOf(b);
    if (!n) throw this.protocol(`/network/${networkId}`, 'a network without id');
    return n;
  }

  /** Every member of a network; OIS_ERR_ZT_NOT_FOUND when Central does not know the network. */
  async members(networkId: string): Promise<Member[]> {
    const path = `/network/${networkId}/member`;
    const b = await this.call('GET', path);
    if (!Array.isArray(b)) throw this.protocol(path, 'not a list');
    const now = this.now();
    return b.map((m) => memberOf(m, now)).filter((m): m is Member => m !== null);
  }

  /** One member; null when Central has no record of that node on the network. */
  async member(networkId: string, nodeId: string): Promise<Member | null> {
    const path = `/network/${networkId}/member/${nodeId}`;
    const b = await this.call('GET', path, undefined, true);
    if (b === NOT_FOUND) return null;
    const m = memberOf(b, this.now(), nodeId);
    if (!m) throw this.protocol(path, 'a member without node id');
    return m;
  }

  /**
   * Updates a member with a partial body (`{name, description, config: {authorized}}`); works before the
   * node has joined. Arrays are replaced whole by Central, so `ipAssignments` reads the member first.
   */
  async updateMember(networkId: string, nodeId: string, update: MemberUpdate): Promise<Member> {
    const path = `/network/${networkId}/member/${nodeId}`;
    const body: { name?: string; description?: string; config?: Record<string, unknown> } = {};
    if (update.name !== undefined) body.name = update.name;
    if (update.description !== undefined) body.description = update.description;
    const config: Record<string, unknown> = {};
    if (update.authorized !== undefined) config.authorized = update.authorized;
    if (update.ipAssignments) {
      const current = await this.member(networkId, nodeId);
      config.ipAssignments = update.ipAssignments(current?.ipAssignments ?? []);
    }
    if (Object.keys(config).length > 0) body.config = config;
    const b = await this.call('POST', path, body);
    const m = memberOf(b, this.now(), nodeId);
    if (!m) throw this.protocol(path, 'a member without node id');
    return m;
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  /** One call with the retry policy; with `allow404`, a 404 answers {@link NOT_FOUND} instead of throwing. */
  private async call(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    allow404 = false,
  ): Promise<unknown> {
    const url = `${this.baseUrl}${path}`;
    for (let attempt = 0; ; attempt++) {
      await this.waitForWindow(path);
      let res: JsonResponse;
      try {
        res = await this.http.send({
          method,
          url,
          headers: { authorization: `token ${this.token}` },
          body,
          timeoutMs: this.timeoutMs,
        });
      } catch (err) {
        // Refused or unresolvable: nothing reached Central, safe to try again. Anything later (a reset or a
        // timeout after a POST was written) may have taken effect; only GETs are repeated then.
        const code = (err as { code?: string }).code;
        const safe =
          method === 'GET' || code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
        if (safe && attempt < this.retries) {
          await sleep(this.backoff(attempt));
          continue;
        }
        throw new OisError(
          'OIS_ERR_ZT_API',
          `ZeroTier Central (${safeUrl(this.baseUrl)}) did not answer: ${describeNetworkError(err)}`,
          {
            hint: 'check the network and ZEROTIER_CENTRAL_URL, then retry; see status.zerotier.com',
            cause: err,
          },
        );
      }
      this.noteRateLimit(res);
      if (res.status >= 200 && res.status <= 299) {
        if (res.body === undefined) throw this.protocol(path, 'not JSON');
        return res.body;
      }
      if (res.status === 401) {
        throw new OisError('OIS_ERR_ZT_AUTH', `ZeroTier Central rejected the API token (401 on ${path})`, {
          hint: 'check the token (my.zerotier.com → Account → API Access Tokens): ZEROTIER_API_TOKEN or ois secrets set zerotier-central --token-stdin',
        });
      }
      if (res.status === 403) {
        throw new OisError('OIS_ERR_ZT_FORBIDDEN', `ZeroTier Central refused ${method} ${path} (403)`, {
          hint: 'use the API token of an account that administers this network',
        });
      }
      if (res.status === 404) {
        if (allow404) return NOT_FOUND;
        throw new OisError('OIS_ERR_ZT_NOT_FOUND', `ZeroTier Central does not know ${path} (404)`, {
          hint: "check the network id (ois net status) and that the token's account can see the network",
        });
      }
      const retryable =
        res.status === 429 ||
        res.status === 503 ||
        (method === 'GET' && (res.status === 502 || res.status === 504));
      if (retryable && attempt < this.retries) {
        const wait = this.waitFor(res, attempt);
        if (wait <= this.maxWaitMs) {
          await sleep(wait);
          continue;
        }
      }
      if (res.status === 429) {
        const wait = Math.ceil(this.waitFor(res, attempt) / 1000);
        throw new OisError(
          'OIS_ERR_ZT_RATE_LIMITED',
          `ZeroTier Central rate limit reached (429 on ${path}); retry in ${wait} s`,
          {
            hint: `retry after ${wait} s; the limit is per account (20 requests/s on free plans)`,
            details: { retryAfterSeconds: wait },
          },
        );
      }
      throw new OisError(
        'OIS_ERR_ZT_API',
        `ZeroTier Central answered ${res.status} to ${method} ${path}${errorMessage(res.body)}; nothing was changed`,
        {
          hint: 'retry later; see status.zerotier.com',
        },
      );
    }
  }

  private protocol(path: string, what: string): OisError {
    return new OisError(
      'OIS_ERR_ZT_PROTOCOL',
      `unexpected answer from ZeroTier Central to ${path}: ${what}`,
      {
        hint: `check the URL (${safeUrl(this.baseUrl)}; ZEROTIER_CENTRAL_URL)`,
      },
    );
  }

  private backoff(attempt: number): number {
    return this.retryDelayMs * 2 ** attempt;
  }

  /** How long to wait before retrying: Retry-After, else the rate-limit reset, else backoff. */
  private waitFor(res: JsonResponse, attempt: number): number {
    const retryAfter = parseRetryAfter(header(res, 'retry-after'), this.now());
    if (retryAfter !== undefined) return retryAfter;
    const reset = parseReset(header(res, 'x-ratelimit-reset'), this.now());
    if (reset !== null) return Math.max(reset - this.now(), 0) + 50;
    return this.backoff(attempt);
  }

  private noteRateLimit(res: JsonResponse): void {
    const remaining = Number(header(res, 'x-ratelimit-remaining'));
    const reset = parseReset(header(res, 'x-ratelimit-reset'), this.now());
    this.blockedUntil =
      header(res, 'x-ratelimit-remaining') !== undefined && remaining <= 0 && reset !== null ? reset : 0;
  }

  /** Spends no request that Central would answer with 429: waits for the window when none is left. */
  private async waitForWindow(path: string): Promise<void> {
    const wait = this.blockedUntil - this.now();
    if (wait <= 0) return;
    if (wait > this.maxWaitMs) {
      const s = Math.ceil(wait / 1000);
      throw new OisError(
        'OIS_ERR_ZT_RATE_LIMITED',
        `ZeroTier Central rate limit reached before ${path}; retry in ${s} s`,
        {
          hint: `retry after ${s} s`,
          details: { retryAfterSeconds: s },
        },
      );
    }
    await sleep(wait + 50);
    this.blockedUntil = 0;
  }
}

const NOT_FOUND = Symbol('not found');

function header(res: JsonResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * `X-Ratelimit-Reset` → the reset time in ms since epoch. Central sends epoch seconds; small numbers are
 * read as seconds from now and 13-digit ones as epoch milliseconds, so either convention works.
 */
export function parseReset(value: string | undefined, now: number): number | null {
  if (value === undefined || value.trim() === '') return null;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) return null;
  if (n >= 1e12) return n;
  if (n >= 1e9) return n * 1000;
  return now + n * 1000;
}

function errorMessage(body: unknown): string {
  // Central's error body is {"type": "...", "message": "..."}; the message is Central's own text.
  if (isObject(body) && typeof body.message === 'string' && body.message !== '') {
    return ` (${body.message.slice(0, 200)})`;
  }
  return '';
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function networkOf(n: unknown): CentralNetwork | null {
  if (!isObject(n) || typeof n.id !== 'string') return null;
  const config = isObject(n.config) ? n.config : {};
  return {
    id: n.id,
    name: str(config.name),
    description: str(n.description),
    onlineMemberCount: num(n.onlineMemberCount),
    authorizedMemberCount: num(n.authorizedMemberCount),
    totalMemberCount: num(n.totalMemberCount),
  };
}

/** Central's member record → {@link Member}; null without any node id (every field may be null). */
export function memberOf(m: unknown, now: number, fallbackId?: string): Member | null {
  if (!isObject(m)) return null;
  const config = isObject(m.config) ? m.config : {};
  const fromId = typeof m.id === 'string' ? m.id.split('-')[1] : undefined;
  const nodeId = [m.nodeId, config.id, fromId, fallbackId].find(
    (x): x is string => typeof x === 'string' && isNodeId(x),
  );
  if (!nodeId) return null;
  const seen = num(m.lastSeen);
  // "May be reset to 0 at any time": 0 means unknown, not 1970.
  const lastSeen = seen !== null && seen > 0 ? seen : null;
  return {
    nodeId,
    name: str(m.name) || null,
    description: str(m.description) || null,
    authorized: config.authorized === true,
    ipAssignments: Array.isArray(config.ipAssignments)
      ? config.ipAssignments.filter((x): x is string => typeof x === 'string')
      : [],
    lastSeen,
    online: isRecentlySeen(lastSeen, now),
    physicalAddress: str(m.physicalAddress) || null,
    clientVersion: str(m.clientVersion) || null,
  };
}
