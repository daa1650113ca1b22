import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { Ajv } from 'ajv';
import { isOisError, OisError } from '../errors.js';
import {
  ENVELOPE_SCHEMA,
  type Envelope,
  type InboxDeps,
  type Received,
  receiveEnvelope,
  verifySender,
} from '../federation/index.js';
import {
  DUPLICATE_WINDOW_MS,
  ensureStream,
  isApiError,
  JS_CODES,
  type NatsTeam,
  type Published,
  publishOnce,
} from './connection.js';
import { agentToken, inboxSubjectSender } from './names.js';

const encoder = new TextEncoder();
const NS_PER_MS = 1_000_000;
/** How long a message may be out for delivery before JetStream offers it again. */
const ACK_WAIT_MS = 60_000;
/** A delivery that failed for a reason that may pass (the local gateway is down) waits this long. */
const RETRY_DELAY_MS = 2_000;

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
  /** Called after each envelope was taken in or refused (for tests and the daemon's metrics). */
  onSettled?: (outcome: Received | { status: 'refused'; id: string | null; code: string }) => void;
};

/**
 * This instance's inbox on NATS: its stream (`OIS_<team>_INBOX_<agent>`, work-queue retention: a message
 * is removed once this instance acknowledged it) and one durable consumer that survives restarts. Every
 * envelope goes through the same pipeline as `POST /v1/messages`: schema, signature against the sender's key
 * in the registry, membership, freshness, dedupe by (sender, id), delivery into the local gateway. NATS only
 * carries the envelope; it is trusted with nothing.
 *
 * An envelope that is refused for what it is (bad signature, unknown sender, stale) is logged, removed and
 * never offered again; one that could not be delivered for now (the gateway is down) is offered again later.
 * Envelopes are taken one at a time, in stream order, so each sender's order is kept.
 */
export class NatsInbox {
  readonly #messages: ConsumerMessages;
  readonly #done: Promise<void>;

  private constructor(messages: ConsumerMessages, done: Promise<void>) {
    this.#messages = messages;
    this.#done = done;
  }

  /** Creates the inbox stream and consumer when missing (idempotent) and starts taking envelopes. */
  static async open(team: NatsTeam, deps: NatsInboxDeps): Promise<NatsInbox> {
    const { names } = team;
    const stream = names.inboxStream(deps.self);
    await ensureStream(team, {
      name: stream,
      subjects: [names.inboxSubjects(deps.self)],
      retention: 'workqueue',
      storage: 'file',
      num_replicas: team.replicas,
      duplicate_window: DUPLICATE_WINDOW_MS * NS_PER_MS,
      discard: 'old',
    });
    await team.jsm.consumers.add(stream, {
      durable_name: names.inboxConsumer,
      ack_policy: 'explicit',
      ack_wait: ACK_WAIT_MS * NS_PER_MS,
      max_deliver: -1,
      deliver_policy: 'all',
      num_replicas: team.replicas,
    });
    const consumer = await team.js.consumers.get(stream, names.inboxConsumer);
    const messages = await consumer.consume({ max_messages: 256 });
    const validate = new Ajv({
      allErrors: false,
      coerceTypes: false,
      removeAdditional: false,
      useDefaults: false,
      strict: true,
    }).compile(ENVELOPE_SCHEMA);
    const done = (async () => {
      for await (const m of messages) await take(m, deps, validate);
    })();
    return new NatsInbox(messages, done);
  }

  /** Stops taking envelopes; resolves once the one being handled is settled. */
  async close(): Promise<void> {
    await this.#messages.close().catch(() => {});
    await this.#done;
  }
}

type Validate = ((value: unknown) => boolean) & { errors?: unknown };

async function take(m: JsMsg, deps: NatsInboxDeps, validate: Validate): Promise<void> {
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
    const verified = await verifySender(envelope, await deps.registry());
    const received = await receiveEnvelope(envelope, verified, deps);
    m.ack();
    deps.onSettled?.(received);
  } catch (err) {
    // Anything but a refusal (a registry that cannot be read just now, a bug) is retried, never dropped.
    const error = isOisError(err)
      ? err
      : new OisError('OIS_ERR_INTERNAL', (err as Error).message, { cause: err });
    const id = envelope?.id ?? null;
    if (error.status >= 500 || error.code === 'OIS_ERR_RATE_LIMITED') {
      // It may pass (the gateway is down, a copy is being delivered right now): offer it again later.
      if (error.code === 'OIS_ERR_INTERNAL') deps.log.error({ id, message: error.message }, 'inbox');
      const retry = Number((error.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds);
      m.nak(Number.isFinite(retry) && retry > 0 ? retry * 1000 : RETRY_DELAY_MS);
      return;
    }
    deps.log.warn({ id, from: envelope?.from, code: error.code, message: error.message }, 'refused');
    // Acknowledged, not terminated: the refusal is final either way, and nats-server 2.9 keeps a terminated
    // message in a work-queue stream for good (the inbox would grow with every forgery).
    m.ack();
    deps.onSettled?.({ status: 'refused', id, code: error.code });
  }
}
