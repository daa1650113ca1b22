import { type ErrorCode, isOisError } from '../errors.js';

/** Failures that provably did not deliver and may succeed later: these keep a message queued. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set([
  'OIS_ERR_PEER_UNREACHABLE',
  'OIS_ERR_PEER_BUSY',
  'OIS_ERR_RATE_LIMITED',
  'OIS_ERR_LOCAL_GATEWAY',
  'OIS_ERR_NATS_UNREACHABLE',
]);

export function isTransient(err: unknown): boolean {
  return isOisError(err) && TRANSIENT.has(err.code);
}

/** The Retry-After an error carried, in ms, if any. */
export function retryAfterOf(err: unknown): number | undefined {
  const seconds = isOisError(err) ? (err.details?.retryAfterSeconds as number | undefined) : undefined;
  return typeof seconds === 'number' ? seconds * 1000 : undefined;
}
