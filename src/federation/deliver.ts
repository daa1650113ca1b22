import { type Env, resolveToken } from '../config/index.js';
import { type ErrorCode, isOisError, OisError } from '../errors.js';
import { sessionsSend } from '../transport/index.js';
import { postEnvelope } from './client.js';
import type { Envelope } from './envelope.js';

/**
 * What the outbox keeps for one message: enough to send it again later, never a token (a direct payload
 * names the peer, and its token is looked up when it goes out).
 */
export type OutboxPayload =
  | { mode: 'federated'; url: string; envelope: Envelope }
  | { mode: 'direct'; peer: string; url: string; sessionKey: string; text: string };

export interface AttemptSettings {
  connectTimeoutMs: number;
  timeoutMs: number;
  retries: number;
  minRetryDelayMs?: number;
  signal?: AbortSignal;
}

/** Failures that provably did not deliver and may succeed later: these keep a message queued. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set([
  'OIS_ERR_PEER_UNREACHABLE',
  'OIS_ERR_PEER_BUSY',
  'OIS_ERR_RATE_LIMITED',
  'OIS_ERR_LOCAL_GATEWAY',
]);

export function isTransient(err: unknown): boolean {
  return isOisError(err) && TRANSIENT.has(err.code);
}

/** Sends one outbox payload once (the outbox decides about retries). */
export async function deliverPayload(
  payload: OutboxPayload,
  home: string,
  env: Env,
  settings: AttemptSettings,
): Promise<void> {
  if (payload.mode === 'federated') {
    await postEnvelope(payload.url, payload.envelope, settings);
    return;
  }
  const token = await resolveToken(home, env, payload.peer);
  if (!token) {
    throw new OisError('OIS_ERR_TOKEN_MISSING', `no gateway token for ${payload.peer}`, {
      hint: `ois secrets set ${payload.peer} --token-stdin`,
    });
  }
  await sessionsSend(
    { url: payload.url, token: token.token, sessionKey: payload.sessionKey },
    { message: payload.text, ...settings },
  );
}

/** The Retry-After an error carried, in ms, if any. */
export function retryAfterOf(err: unknown): number | undefined {
  const seconds = isOisError(err) ? (err.details?.retryAfterSeconds as number | undefined) : undefined;
  return typeof seconds === 'number' ? seconds * 1000 : undefined;
}
