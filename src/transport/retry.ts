import { setTimeout as sleep } from 'node:timers/promises';
import pRetry, { AbortError } from 'p-retry';

/**
 * The one retry policy of OIS's HTTP calls (STYLE.md "Retries"): the gateway client and the federation
 * client both run their attempts through `withRetries`. Only what provably did not take effect is retried,
 * and an attempt says so by throwing `Retryable` (a connection refused or reset before the body was
 * written, a DNS failure, a 429 or 503); whatever else it throws is final. Retries back off exponentially
 * (doubling, randomised, capped); a server's Retry-After is waited for in full, unless it is longer than the
 * policy allows, which makes that failure final.
 */

export const DEFAULT_RETRIES = 3;
export const DEFAULT_MIN_RETRY_DELAY_MS = 500;
export const DEFAULT_MAX_RETRY_DELAY_MS = 10_000;
export const DEFAULT_MAX_RETRY_AFTER_MS = 30_000;

export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  /** The wait before the first retry; it doubles at each retry, times a random 1 to 2, at most `maxDelayMs`. */
  minDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the failure that asked for it is final. */
  maxRetryAfterMs: number;
}

/**
 * The policy for a call's options, with the defaults for what they leave out.
 * @example retryPolicy({ retries: 0 }) // one attempt, no retry
 */
export function retryPolicy(
  options: { retries?: number; minRetryDelayMs?: number; maxRetryAfterMs?: number } = {},
): RetryPolicy {
  return {
    retries: options.retries ?? DEFAULT_RETRIES,
    minDelayMs: options.minRetryDelayMs ?? DEFAULT_MIN_RETRY_DELAY_MS,
    maxDelayMs: DEFAULT_MAX_RETRY_DELAY_MS,
    maxRetryAfterMs: options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS,
  };
}

/** Thrown by an attempt that provably had no effect: it may be tried again (after `retryAfterMs`, if set). */
export class Retryable extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'Retryable';
  }
}

/**
 * Runs `attempt` (given its number, from 1) until it resolves, throws something that is not a `Retryable`,
 * or the policy's retries are spent; then resolves or rejects as the last attempt did. So a caller gets a
 * `Retryable` back only when retrying did not help (or its Retry-After was too long), and turns it into its
 * own error. When `signal` aborts, the wait ends at once and the call rejects with the abort reason.
 * @example
 * const status = await withRetries(retryPolicy({ retries: 2 }), async () => {
 *   const res = await post();
 *   if (res.status === 503) throw new Retryable('busy', parseRetryAfter(res.headers['retry-after']));
 *   return res.status;
 * });
 */
export function withRetries<T>(
  policy: RetryPolicy,
  attempt: (attemptNumber: number) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  return pRetry(
    async (n) => {
      try {
        return await attempt(n);
      } catch (err) {
        const again =
          err instanceof Retryable &&
          (err.retryAfterMs === undefined || err.retryAfterMs <= policy.maxRetryAfterMs);
        if (again) throw err;
        // Final: p-retry rethrows what the AbortError wraps, as it was thrown.
        throw new AbortError(err instanceof Error ? err : new Error(String(err)));
      }
    },
    {
      retries: policy.retries,
      minTimeout: policy.minDelayMs,
      maxTimeout: policy.maxDelayMs,
      factor: 2,
      randomize: true,
      ...(signal ? { signal } : {}),
      onFailedAttempt: async ({ error, retriesLeft, retryDelay }) => {
        // p-retry waits `retryDelay` after this; top it up so the server's Retry-After is honoured.
        if (error instanceof Retryable && retriesLeft > 0 && error.retryAfterMs !== undefined) {
          const extra = error.retryAfterMs - retryDelay;
          // An abort ends the wait with the signal's reason, as p-retry's own wait does.
          if (extra > 0)
            await sleep(extra, undefined, signal ? { signal } : {}).catch((err: unknown) => {
              throw signal?.aborted ? signal.reason : err;
            });
        }
      },
    },
  );
}

/**
 * Retry-After: delay-seconds or an HTTP date (RFC 9110 10.2.3), as milliseconds from `now`; undefined when
 * absent or unreadable. The one reading of the header in OIS (gateways, peer daemons, ZeroTier Central).
 * @example parseRetryAfter('3') // 3000
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw) return undefined;
  // Seconds; a fraction is not in the RFC, but is read as meant rather than handed to Date.parse (which
  // takes "1.5" for a day in 2001).
  if (/^\d+(?:\.\d+)?$/.test(raw)) return Math.round(Number(raw) * 1000);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
