import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_MAX_RETRY_AFTER_MS,
  DEFAULT_MAX_RETRY_DELAY_MS,
  DEFAULT_MIN_RETRY_DELAY_MS,
  DEFAULT_RETRIES,
  parseRetryAfter,
  Retryable,
  type RetryPolicy,
  retryPolicy,
  withRetries,
} from '../src/transport/index.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs `withRetries` with an attempt that fails with `fail(n)` until `succeedAt`; records when each ran. */
async function run(
  policy: RetryPolicy,
  fail: (n: number) => Error,
  options: { succeedAt?: number; signal?: AbortSignal } = {},
) {
  const at: number[] = [];
  const started = performance.now();
  const outcome = await withRetries(
    policy,
    async (n) => {
      at.push(performance.now() - started);
      if (n === options.succeedAt) return `ok after ${n}`;
      throw fail(n);
    },
    options.signal,
  ).then(
    (value): { value?: string; error?: unknown } => ({ value }),
    (error: unknown): { value?: string; error?: unknown } => ({ error }),
  );
  const gaps = at.slice(1).map((t, i) => t - at[i]!);
  return { attempts: at.length, gaps, ...outcome };
}

const policy = (over: Partial<RetryPolicy>): RetryPolicy => ({
  retries: 3,
  minDelayMs: 1,
  maxDelayMs: 1000,
  maxRetryAfterMs: 1000,
  ...over,
});

// Timers never fire early; a millisecond of rounding is allowed for. Upper bounds are loose: the machine
// may be busy, and what they catch (a wait of seconds, a missing cap) is far above them.
const SLACK_MS = 2;
const LATE_MS = 250;

describe('transport - the one retry policy', () => {
  it('transport - the defaults: 3 retries, 500 ms doubling to at most 10 s, Retry-After up to 30 s', () => {
    expect(retryPolicy()).toEqual({
      retries: DEFAULT_RETRIES,
      minDelayMs: DEFAULT_MIN_RETRY_DELAY_MS,
      maxDelayMs: DEFAULT_MAX_RETRY_DELAY_MS,
      maxRetryAfterMs: DEFAULT_MAX_RETRY_AFTER_MS,
    });
    expect([DEFAULT_RETRIES, DEFAULT_MIN_RETRY_DELAY_MS, DEFAULT_MAX_RETRY_DELAY_MS]).toEqual([
      3, 500, 10_000,
    ]);
    expect(DEFAULT_MAX_RETRY_AFTER_MS).toBe(30_000);
    expect(retryPolicy({ retries: 0, minRetryDelayMs: 20, maxRetryAfterMs: 5 })).toEqual({
      retries: 0,
      minDelayMs: 20,
      maxDelayMs: DEFAULT_MAX_RETRY_DELAY_MS,
      maxRetryAfterMs: 5,
    });
  });

  it('transport - a Retryable is tried retries + 1 times, then comes back as the last one', async () => {
    const r = await run(policy({ retries: 2 }), (n) => new Retryable(`refused #${n}`));
    expect(r.attempts).toBe(3);
    expect(r.error).toBeInstanceOf(Retryable);
    expect((r.error as Error).message).toBe('refused #3');
    const none = await run(policy({ retries: 0 }), () => new Retryable('refused'));
    expect(none.attempts).toBe(1);
  });

  it('transport - anything else an attempt throws is final, as it was thrown', async () => {
    const final = new Error('401: never retried');
    const r = await run(policy({ retries: 3 }), () => final);
    expect(r.attempts).toBe(1);
    expect(r.error).toBe(final);
    const typeError = await run(policy({ retries: 3 }), () => new TypeError('a bug'));
    expect(typeError.attempts).toBe(1);
  });

  it('transport - an attempt that succeeds after failures resolves with its value', async () => {
    const r = await run(policy({ retries: 3 }), () => new Retryable('busy'), { succeedAt: 3 });
    expect([r.attempts, r.value]).toEqual([3, 'ok after 3']);
  });

  it('transport - backoff doubles from minDelayMs, times 1 to 2 at random, capped at maxDelayMs', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const low = await run(policy({ retries: 3, minDelayMs: 20 }), () => new Retryable('refused'));
    expect(low.gaps).toHaveLength(3);
    low.gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(20 * 2 ** i - SLACK_MS);
      expect(gap).toBeLessThan(20 * 2 ** i + LATE_MS);
    });
    vi.spyOn(Math, 'random').mockReturnValue(0.999_999);
    const high = await run(policy({ retries: 3, minDelayMs: 20, maxDelayMs: 70 }), () => new Retryable('x'));
    // 40, 80 → 70 (the cap), 160 → 70.
    [40, 70, 70].forEach((expected, i) => {
      expect(high.gaps[i]).toBeGreaterThanOrEqual(expected - SLACK_MS);
      expect(high.gaps[i]).toBeLessThan(expected + LATE_MS);
    });
  });

  it('transport - a Retry-After is waited for in full, even when it is longer than the backoff', async () => {
    const r = await run(policy({ retries: 1, minDelayMs: 1 }), () => new Retryable('503', 300));
    expect(r.attempts).toBe(2);
    expect(r.gaps[0]).toBeGreaterThanOrEqual(300 - SLACK_MS);
    expect(r.gaps[0]).toBeLessThan(300 + LATE_MS);
    // A shorter Retry-After than the backoff: the backoff still applies.
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const shorter = await run(policy({ retries: 1, minDelayMs: 200 }), () => new Retryable('429', 10));
    expect(shorter.gaps[0]).toBeGreaterThanOrEqual(200 - SLACK_MS);
  });

  it('transport - a Retry-After over maxRetryAfterMs is not waited for: that failure is final', async () => {
    const started = performance.now();
    const r = await run(
      policy({ retries: 3, maxRetryAfterMs: 1000 }),
      () => new Retryable('locked out', 300_000),
    );
    expect(r.attempts).toBe(1);
    expect(r.error).toBeInstanceOf(Retryable);
    expect((r.error as Retryable).retryAfterMs).toBe(300_000);
    expect(performance.now() - started).toBeLessThan(LATE_MS);
  });

  it('transport - an abort ends a Retry-After wait at once, with the signal’s reason', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort('SIGINT'), 50);
    const started = performance.now();
    const r = await run(policy({ retries: 3 }), () => new Retryable('503', 900), {
      signal: controller.signal,
    });
    expect(r.attempts).toBe(1);
    expect(r.error).toBe('SIGINT');
    expect(performance.now() - started).toBeLessThan(900);
  });
});

describe('transport - Retry-After', () => {
  it('transport - seconds, an HTTP date, or nothing readable', () => {
    const now = Date.parse('2026-11-21T10:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
    expect(parseRetryAfter('Sat, 21 Nov 2026 10:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Sat, 21 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(['7', '9'], now)).toBe(7000);
    for (const bad of [undefined, '', '  ', 'soon', '-1x']) expect(parseRetryAfter(bad, now)).toBeUndefined();
  });
});
