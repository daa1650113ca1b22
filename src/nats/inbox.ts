import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JsMsg } from '@nats-io/jetstream';
import { Ajv } from 'ajv';
import { isOisError, OisError, storageError } from '../errors.js';
import {
  ENVELOPE_SCHEMA,
  type Envelope,
  type InboxDeps,
  type Received,
  receiveEnvelope,
  verifySender,
} from '../federation/index.js';
import { writeFileAtomic } from '../team/index.js';
import {
  DUPLICATE_WINDOW_MS,
  ensureStream,
  isApiError,
  JS_CODES,
  type NatsTeam,
  type Published,
  publishOnce,
  readStream,
} from './connection.js';
import { agentToken, inboxSubjectSender } from './names.js';

const encoder = new TextEncoder();
const NS_PER_MS = 1_000_000;
/** A delivery that failed for a reason that may pass (the local gateway is down) is tried again after this, */
const RETRY_DELAY_MS = 2_000;
/** doubling up to this. */
const MAX_RETRY_DELAY_MS = 30_000;
/** How soon after it moves the cursor is written to the instance home. */
const CURSOR_SAVE_MS = 200;

/**
 * Puts a signed envelope into its recipient's inbox stream (`ois.<team>.inbox.<to>.<from>`), once: its
 * `Nats-Msg-Id` is `<from>:<id>`, so a publish repeated after a lost acknowledgement is stored once. Resolves
 * when JetStream has stored it (replicated, on a cluster): the recipient's instance takes it from there,
 * whether it is running now or starts later. This is "stored for the peer", not "in the peer's session".
 *
 * Throws `OIS_ERR_NATS_NO_INBOX` when the recipient has no inbox stream (it never ran on NATS),
 * `OIS_ERR_MESSAGE_TOO_LARGE` when the envelope is over the server's `max_payload`, `OIS_ERR_USAGE` for an
 * envelope that waits for an answer (not carried over NATS yet: specs/nats.md), and
 * `OIS_ERR_NATS_UNREACHABLE` when it could not be stored before the deadline.
 */
export async function sendToInbox(team: NatsTeam, envelope: Envelope): Promise<Published> {
  if (envelope.wait !== undefined) {
    throw new OisError('OIS_ERR_USAGE', `${envelope.id} waits for an answer, which NATS does not carry yet`, {
      hint: 'send it without --wait, or over the peer daemon (HTTP)',
    });
  }
  const data = encoder.encode(JSON.stringify(envelope));
  const max = team.nc.info?.max_payload;
  if (max !== undefined && data.length > max) {
    throw new OisError(
      'OIS_ERR_MESSAGE_TOO_LARGE',
      `the envelope is ${data.length} bytes; the NATS servers take at most ${max} (max_payload)`,
      { hint: 'raise max_payload in the server config (specs/nats.md), or put the content in shared/' },
    );
  }
  const { names } = team;
  return publishOnce(
    team,
    names.inboxSubject(envelope.to, envelope.from),
    data,
    `${agentToken(envelope.from)}:${envelope.id}`,
    async (err) => {
      // No stream listens on the subject: either the peer never created its inbox, or the stream has no
      // leader for a moment (a node was lost). Only the first is final.
      if (!isNoResponders(err)) return null;
      try {
        await team.jsm.streams.info(names.inboxStream(envelope.to));
        return null;
      } catch (infoErr) {
        if (!isApiError(infoErr, JS_CODES.streamNotFound)) return null;
      }
      return new OisError('OIS_ERR_NATS_NO_INBOX', `${envelope.to} has no inbox on NATS team ${names.team}`, {
        hint: `${envelope.to} starts its instance on NATS; until then it is reached over HTTP`,
      });
    },
  );
}

/**
 * True when nothing answered a publish: the client reports it as `NoRespondersError`, or (for a JetStream
 * publish) as `JetStreamNotEnabled` caused by one.
 */
function isNoResponders(err: unknown): boolean {
  for (let e = err as Error | undefined, depth = 0; e && depth < 3; e = e.cause as Error, depth++) {
    if (e.name === 'NoRespondersError' || /no responders/i.test(e.message ?? '')) return true;
  }
  return false;
}

/** What the inbox needs besides the connection: the receive pipeline's dependencies (as the HTTP inbox). */
export type NatsInboxDeps = Omit<InboxDeps, 'sign'> & {
  /**
   * Where this instance keeps its place in the inbox stream (in its home, e.g. `<home>/nats-inbox.json`):
   * the instance, not the server, remembers what it has taken in, so a restart resumes after it.
   */
  cursorFile: string;
  /** Called after each envelope was taken in or refused (for tests and the daemon's metrics). */
  onSettled?: (outcome: Received | { status: 'refused'; id: string | null; code: string }) => void;
};

/**
 * This instance's inbox on NATS: its stream (`OIS_<team>_INBOX_<agent>`, kept as long as the receiver
 * remembers message ids) read from this instance's cursor (`cursorFile`) with an ordered consumer, one
 * envelope at a time. Every envelope goes through the same pipeline as `POST /v1/messages`: schema,
 * signature against the sender's key in the registry, membership, freshness, dedupe by (sender, id),
 * delivery into the local gateway. NATS only carries the envelope; it is trusted with nothing.
 *
 * Order: the stream holds each sender's envelopes in the order the sender stored them, and the inbox takes
 * them in stream order, without gaps (the ordered consumer starts again after the last one it saw when a
 * node or the connection is lost). An envelope refused for what it is (bad signature, unknown sender) is
 * logged and passed; one that cannot be delivered for now (the gateway is down) is tried again, and the
 * ones after it wait: a later message never overtakes it. What was delivered but not yet recorded in the
 * cursor when the instance stopped comes again after a restart and is acknowledged as a duplicate.
 */
export class NatsInbox {
  readonly #stop: AbortController;
  readonly #done: Promise<void>;

  private constructor(stop: AbortController, done: Promise<void>) {
    this.#stop = stop;
    this.#done = done;
  }

  /** Creates the inbox stream when missing (idempotent) and starts taking envelopes after the cursor. */
  static async open(team: NatsTeam, deps: NatsInboxDeps): Promise<NatsInbox> {
    const { names } = team;
    const stream = names.inboxStream(deps.self);
    const info = await ensureStream(team, {
      name: stream,
      subjects: [names.inboxSubjects(deps.self)],
      retention: 'limits',
      storage: 'file',
      num_replicas: team.replicas,
      duplicate_window: DUPLICATE_WINDOW_MS * NS_PER_MS,
      // An envelope older than the receiver's memory of ids would be refused as stale anyway.
      max_age: deps.seen.windowMs * NS_PER_MS,
      discard: 'old',
    });
    const cursor = await InboxCursor.load(deps.cursorFile, stream, info.created);
    const validate = new Ajv({
      allErrors: false,
      coerceTypes: false,
      removeAdditional: false,
      useDefaults: false,
      strict: true,
    }).compile(ENVELOPE_SCHEMA);
    const stop = new AbortController();
    const { signal } = stop;
    const done = (async () => {
      try {
        await readStream(
          team,
          stream,
          {
            // From the cursor: a new reader (after a restart, or a lost node) resumes after what was settled.
            start: () => ({ deliver_policy: 'by_start_sequence', opt_start_seq: cursor.seq + 1 }),
            expectMore: async () => (await team.jsm.streams.info(stream)).state.last_seq > cursor.seq,
            signal,
            onRestart: (reason) => deps.log.warn({ stream, reason }, 'inbox reader started again'),
          },
          async (m) => {
            if (m.seq <= cursor.seq) return;
            let delay = RETRY_DELAY_MS;
            while ((await take(m, deps, validate)) === 'retry') {
              // The ones after it wait: a later envelope never overtakes one that is not delivered yet.
              if (signal.aborted) return;
              await sleep(delay, undefined, { signal }).catch(() => {});
              if (signal.aborted) return;
              delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
            }
            cursor.advance(m.seq);
          },
        );
      } catch (err) {
        // The server's permissions refuse this user a reader on this inbox (not its own): no retry helps.
        const e = err as OisError;
        deps.log.error({ stream, code: e.code, message: e.message }, 'inbox stopped');
      } finally {
        await cursor.flush();
      }
    })();
    return new NatsInbox(stop, done);
  }

  /** Stops taking envelopes; resolves once the one being handled is settled and the cursor is saved. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#done;
  }
}

/**
 * The last stream sequence this instance has settled, in a small file in its home, written a moment after
 * it moves (not once per message) and when the inbox closes. Losing the last moments (a crash) only means
 * those envelopes come again, and the seen store acknowledges them as duplicates. A cursor of another
 * stream (the inbox was deleted and created again) starts over.
 */
class InboxCursor {
  seq: number;
  readonly #path: string;
  readonly #stream: string;
  readonly #created: string;
  #saved: number;
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<void> = Promise.resolve();

  private constructor(path: string, stream: string, created: string, seq: number) {
    this.#path = path;
    this.#stream = stream;
    this.#created = created;
    this.seq = seq;
    this.#saved = seq;
  }

  static async load(path: string, stream: string, created: string): Promise<InboxCursor> {
    let seq = 0;
    try {
      const saved = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
      if (saved.stream === stream && saved.created === created && Number.isSafeInteger(saved.seq)) {
        seq = Math.max(0, saved.seq as number);
      }
    } catch (err) {
      // Missing or unreadable: start at the beginning; the seen store answers what was delivered before.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError)) {
        throw storageError('read', path, err);
      }
    }
    return new InboxCursor(path, stream, created, seq);
  }

  advance(seq: number): void {
    this.seq = seq;
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      void this.#write();
    }, CURSOR_SAVE_MS);
  }

  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#write();
  }

  #write(): Promise<void> {
    this.#writing = this.#writing.then(async () => {
      if (this.seq === this.#saved) return;
      const seq = this.seq;
      await writeFileAtomic(
        this.#path,
        `${JSON.stringify({ stream: this.#stream, created: this.#created, seq })}\n`,
      ).catch(() => {});
      this.#saved = seq;
    });
    return this.#writing;
  }
}

type Validate = ((value: unknown) => boolean) & { errors?: unknown };

async function take(m: JsMsg, deps: NatsInboxDeps, validate: Validate): Promise<'done' | 'retry'> {
  let envelope: Envelope | null = null;
  try {
    let parsed: unknown;
    try {
      parsed = JSON.parse(m.string());
    } catch {
      throw new OisError('OIS_ERR_ENVELOPE_INVALID', 'the message is not JSON');
    }
    if (!validate(parsed)) {
      throw new OisError(
        'OIS_ERR_ENVELOPE_INVALID',
        'the message is not an OIS envelope (specs/federation.md)',
      );
    }
    envelope = parsed as Envelope;
    // The subject names the sender as the publisher's permissions allow it (specs/nats.md); an envelope
    // that claims someone else was put there by another publisher.
    const sender = inboxSubjectSender(m.subject);
    if (sender !== agentToken(envelope.from)) {
      throw new OisError(
        'OIS_ERR_ENVELOPE_INVALID',
        `the envelope says it is from ${envelope.from} but was published as ${sender}`,
      );
    }
    const storedAt = checkCarried(envelope, Math.floor(m.info.timestampNanos / NS_PER_MS), deps);
    const verified = await verifySender(envelope, await deps.registry());
    // The signed sentAt is checked against when JetStream stored the envelope, not against now: an inbox
    // read hours later (the receiver was offline) still takes what was sent on time.
    const received = await receiveEnvelope(envelope, verified, { ...deps, now: () => storedAt });
    deps.onSettled?.(received);
    return 'done';
  } catch (err) {
    // Anything but a refusal (a registry that cannot be read just now, a bug) is tried again, never dropped.
    const error = isOisError(err)
      ? err
      : new OisError('OIS_ERR_INTERNAL', (err as Error).message, { cause: err });
    const id = envelope?.id ?? null;
    if (error.status >= 500 || error.code === 'OIS_ERR_RATE_LIMITED') {
      if (error.code === 'OIS_ERR_INTERNAL') deps.log.error({ id, message: error.message }, 'inbox');
      return 'retry';
    }
    deps.log.warn({ id, from: envelope?.from, code: error.code, message: error.message }, 'refused');
    deps.onSettled?.({ status: 'refused', id, code: error.code });
    return 'done';
  }
}

/**
 * The server's store time is not trusted further than this: it may not be in the future, and the envelope
 * must still be young enough, by this instance's clock, that its id is remembered (the HTTP inbox's rule,
 * so that a replayed old envelope can never be delivered twice). Returns the store time.
 */
function checkCarried(envelope: Envelope, storedAt: number, deps: NatsInboxDeps): number {
  const now = deps.now();
  const window = deps.skewSeconds * 1000;
  if (!(storedAt <= now + window)) {
    throw new OisError(
      'OIS_ERR_ENVELOPE_STALE',
      `NATS says ${envelope.id} was stored at ${new Date(storedAt).toISOString()}, after this daemon's clock`,
    );
  }
  const maxAgeMs = deps.seen.windowMs - window;
  const age = now - Date.parse(envelope.createdAt);
  if (age > maxAgeMs) {
    throw new OisError(
      'OIS_ERR_ENVELOPE_STALE',
      `createdAt ${envelope.createdAt} is ${Math.round(age / 3_600_000)} h old; this daemon remembers ids for ${Math.round(maxAgeMs / 3_600_000)} h`,
    );
  }
  return storedAt;
}
