import { Agent } from 'undici';
import { ERROR_CODES, type ErrorCode, isOisError, OisError } from '../errors.js';
import {
  networkProblem,
  parseRetryAfter,
  Retryable,
  readBounded,
  requestVia,
  retryPolicy,
  withRetries,
} from '../transport/index.js';

/** A daemon answers a few hundred bytes; more is not a daemon's answer. */
const MAX_ANSWER_BYTES = 64 * 1024;

import type { Envelope } from './envelope.js';

export interface PostEnvelopeOptions {
  connectTimeoutMs: number;
  timeoutMs: number;
  retries: number;
  minRetryDelayMs?: number;
  /** A Retry-After longer than this is not waited for. */
  maxRetryAfterMs?: number;
  signal?: AbortSignal;
}

export interface PostEnvelopeResult {
  /** `replied` / `no_reply`: an envelope with `wait`, and what its recipient's assistant answered. */
  status: 'delivered' | 'duplicate' | 'replied' | 'no_reply';
  seconds: number;
  attempts: number;
  /** For `replied`: the answer as the recipient signed it (the caller verifies it). */
  reply?: unknown;
}

const ANSWERS = new Set(['delivered', 'duplicate', 'replied', 'no_reply']);

/** A failure that provably did not deliver: retried by the transport's policy, else reported as `error`. */
class NotDelivered extends Retryable {
  constructor(
    readonly error: OisError,
    retryAfterMs?: number,
  ) {
    super(error.message, retryAfterMs);
  }
}

/**
 * Posts a signed envelope to a peer daemon (`POST <url>/v1/messages`). Unlike a direct gateway call, every
 * failure in transit can be retried: the receiver delivers an id once, so a repeat is acknowledged as a
 * duplicate and never reaches the session twice. The retries are the transport's one policy (backoff, and
 * a 429 or 503 retried after its Retry-After unless that is over `maxRetryAfterMs`).
 */
export async function postEnvelope(
  url: string,
  envelope: Envelope,
  options: PostEnvelopeOptions,
): Promise<PostEnvelopeResult> {
  const started = performance.now();
  const endpoint = `${url.replace(/\/+$/, '')}/v1/messages`;
  const body = JSON.stringify(envelope);
  const dispatcher = new Agent({ connect: { timeout: options.connectTimeoutMs } });
  let attempts = 0;
  let reply: unknown;
  try {
    const status = await withRetries(
      retryPolicy(options),
      async () => {
        attempts++;
        let res: Awaited<ReturnType<typeof requestVia>>;
        try {
          res = await requestVia(dispatcher, endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            headersTimeout: options.timeoutMs,
            bodyTimeout: options.timeoutMs,
            ...(options.signal ? { signal: options.signal } : {}),
          });
        } catch (err) {
          if (options.signal?.aborted)
            throw new OisError('OIS_ERR_INTERRUPTED', `interrupted while sending ${envelope.id} to ${url}`);
          throw new NotDelivered(
            new OisError(
              'OIS_ERR_PEER_UNREACHABLE',
              `the daemon of ${envelope.to} at ${url} cannot be reached: ${networkProblem(err)}`,
              {
                hint: `check that ${envelope.to}'s ois serve runs and is reachable over ZeroTier; the message can be sent again safely`,
                details: { url, messageId: envelope.id },
              },
            ),
          );
        }
        let text: string;
        try {
          text = (await readBounded(res.body, MAX_ANSWER_BYTES)).toString('utf8');
        } catch (err) {
          throw protocolError(url, res.statusCode, (err as Error).message);
        }
        let json: { status?: string; code?: string; message?: string; reply?: unknown } = {};
        try {
          json = JSON.parse(text);
        } catch {}
        if (res.statusCode === 202 || res.statusCode === 200) {
          if (typeof json.status === 'string' && ANSWERS.has(json.status)) {
            reply = json.reply;
            return json.status as PostEnvelopeResult['status'];
          }
          throw protocolError(url, res.statusCode, text);
        }
        const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
        const known =
          typeof json.code === 'string' && json.code in ERROR_CODES ? (json.code as ErrorCode) : null;
        const error = new OisError(
          known ?? (res.statusCode >= 500 ? 'OIS_ERR_PEER_ERROR' : 'OIS_ERR_PEER_REJECTED'),
          `the daemon of ${envelope.to} refused ${envelope.id}: ${json.message ?? `HTTP ${res.statusCode}`}`,
          {
            hint: known ? hintFor(known) : 'see the receiving daemon log',
            details: { url, status: res.statusCode, messageId: envelope.id },
          },
        );
        // Retried after its Retry-After, or reported at once when that is longer than the policy allows.
        if (res.statusCode === 429 || res.statusCode === 503) throw new NotDelivered(error, retryAfterMs);
        throw error;
      },
      options.signal,
    );
    return {
      status,
      seconds: (performance.now() - started) / 1000,
      attempts,
      ...(reply === undefined ? {} : { reply }),
    };
  } catch (err) {
    if (err instanceof NotDelivered) throw err.error;
    if (isOisError(err)) throw err;
    if (options.signal?.aborted)
      throw new OisError('OIS_ERR_INTERRUPTED', `interrupted while sending ${envelope.id}`);
    throw new OisError(
      'OIS_ERR_INTERNAL',
      `unexpected error sending ${envelope.id}: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    await dispatcher.destroy().catch(() => {});
  }
}

function protocolError(url: string, status: number, text: string): OisError {
  return new OisError(
    'OIS_ERR_PEER_PROTOCOL',
    `${url} answered ${status} with something that is not an OIS daemon answer: ${text.slice(0, 120)}`,
    {
      hint: "check the federation URL in the peer's AGENTS.md entry",
    },
  );
}

function hintFor(code: ErrorCode): string {
  switch (code) {
    case 'OIS_ERR_SIGNATURE_INVALID':
      return 'the receiver has another public key for this instance: run ois join to publish the current one';
    case 'OIS_ERR_SENDER_UNKNOWN':
      return "the receiver's AGENTS.md has no key for this instance: run ois join (same team folder?)";
    case 'OIS_ERR_ENVELOPE_STALE':
      return 'a clock is off: turn on NTP on both machines (ois doctor shows the skew)';
    case 'OIS_ERR_HOP_LIMIT':
      return 'the conversation stopped at the hop limit: start a new one with ois send';
    case 'OIS_ERR_RECIPIENT_MISMATCH':
      return "the federation URL in the recipient's AGENTS.md entry points at another instance";
    default:
      return 'see docs/errors.md';
  }
}
