import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FailedAuthLimit } from './types.js';

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** The bearer check and the failed-auth lockout, as the real gateway does them: per client IP, loopback exempt by default. */
export class AuthGate {
  readonly #token: Buffer;
  readonly #limit: FailedAuthLimit;
  readonly #failures = new Map<string, { times: number[]; lockedUntil: number }>();

  constructor(token: string, limit: FailedAuthLimit) {
    this.#token = Buffer.from(token, 'utf8');
    this.#limit = limit;
  }

  /** How long `ip` is still locked out, in ms (0: not locked). */
  lockedOutMs(ip: string | undefined, now: number): number {
    if (this.#limit.exemptLoopback && isLoopback(ip)) return 0;
    const entry = this.#failures.get(ip ?? '');
    return entry && entry.lockedUntil > now ? entry.lockedUntil - now : 0;
  }

  recordFailure(ip: string | undefined, now: number): void {
    const limit = this.#limit;
    if (limit.exemptLoopback && isLoopback(ip)) return;
    const key = ip ?? '';
    const entry = this.#failures.get(key) ?? { times: [], lockedUntil: 0 };
    entry.times = entry.times.filter((t) => now - t < limit.windowMs);
    entry.times.push(now);
    if (entry.times.length >= limit.max) {
      entry.lockedUntil = now + limit.lockoutMs;
      entry.times = [];
    }
    this.#failures.set(key, entry);
  }

  /** `Authorization: Bearer <token>` (the scheme case-insensitive), compared in constant time. */
  authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^bearer\s+(.+)$/i.exec(header.trim()) : null;
    if (!match?.[1]) return false;
    const given = Buffer.from(match[1].trim(), 'utf8');
    return given.length === this.#token.length && timingSafeEqual(given, this.#token);
  }
}
