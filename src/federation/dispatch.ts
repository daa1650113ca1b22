/**
 * One delivery attempt of one message, addressed to an agent (never to a URL), and the outbox loop that
 * makes them. `ois send`, the viewer's compose and the daemon's outbox sender all deliver through
 * `attemptDelivery`: at each attempt the peer's current address is read from AGENTS.md (a daemon that came
 * back on another port, a node whose ZeroTier address changed), and an envelope is signed afresh, so that a
 * message queued through an outage longer than the receiver's clock window still arrives, once.
 */
import { appendEntry, type NoticeRef } from '../chatlog/index.js';
import { type Env, resolveToken } from '../config/index.js';
import { type ErrorCode, isOisError, OisError } from '../errors.js';
import type { Identity } from '../membership/index.js';
import { type Agent, agentId, findAgent, type Registry } from '../registry/index.js';
import type { TeamStore } from '../team/index.js';
import { sessionsSend } from '../transport/index.js';
import { postEnvelope } from './client.js';
import { isTransient, retryAfterOf } from './deliver.js';
import { type Envelope, MAX_ENVELOPE_BODY_BYTES, signEnvelope, type TaskRef } from './envelope.js';
import { deliveredText, newMessageId, parseHeader } from './message.js';
import type { Outbox, OutboxMessage } from './outbox.js';
import { federationOf } from './peer.js';
import { readPresence } from './presence.js';

/** What the outbox keeps for one message (payload v2): who it is for and what it says, never a token or URL. */
export interface QueuedMessage {
  v: 2;
  /** The recipient agent's name. */
  peer: string;
  id: string;
  from: string;
  /** When the sender wrote it (ISO-8601 UTC with ms): the header's time, and the envelope's `createdAt`. */
  createdAt: string;
  body: string;
  /** A team notice (specs/membership.md): its type and the agent it is about. */
  notice?: NoticeRef;
  /** What it is, if not a plain message, and the thread it belongs to (signed into the envelope). */
  thread?: Thread;
}

/** A reply, a task or a task update, and its thread (specs/federation.md, "Typed envelopes"). */
export interface Thread {
  type: 'reply' | 'task' | 'task_update';
  replyTo?: string;
  conversation?: string;
  hops?: number;
  task?: TaskRef;
}

/** Payloads that ois 0.1 stored: addressed to a URL. Read, converted, never written. */
type LegacyPayload =
  | { mode: 'federated'; url: string; envelope: Envelope }
  | { mode: 'direct'; peer: string; url: string; sessionKey: string; text: string };

/** What an outbox row's payload says, in today's form. */
export function readQueued(payload: string): QueuedMessage {
  const p = JSON.parse(payload) as QueuedMessage | LegacyPayload;
  if ('v' in p && p.v === 2) return p;
  const legacy = p as LegacyPayload;
  if (legacy.mode === 'federated') {
    const e = legacy.envelope;
    return { v: 2, peer: e.to, id: e.id, from: e.from, createdAt: e.createdAt, body: e.body };
  }
  const h = parseHeader(legacy.text);
  if (!h) throw new OisError('OIS_ERR_INTERNAL', 'a queued message of ois 0.1 has no OIS header');
  return { v: 2, peer: legacy.peer, id: h.id, from: h.from, createdAt: h.at.toISOString(), body: h.body };
}

export interface AttemptSettings {
  connectTimeoutMs: number;
  timeoutMs: number;
  retries: number;
  minRetryDelayMs?: number;
  signal?: AbortSignal;
}

/** Where a peer is now after its ZeroTier address changed (AGENTS.md is updated by whoever found it). */
export interface Moved {
  gatewayUrl: string | null;
  federationUrl: string | null;
}

/** Everything an attempt needs besides the message. */
export interface Courier {
  home: string;
  env: Env;
  identity: Identity | null;
  /** The current registry. */
  registry: () => Promise<Registry>;
  settings: AttemptSettings;
  /** For a peer that cannot be reached: where it is now, if its ZeroTier address changed. */
  relocate?: (agent: Agent) => Promise<Moved | null>;
  /**
   * The team's own delivery (a team on NATS: the recipient's inbox stream), tried before HTTP for a
   * federated peer; `where` names it in reports.
   */
  inbox?: { where: string; put: (envelope: Envelope) => Promise<{ duplicate: boolean }> };
  now?: () => number;
}

/** The team's own delivery of a store that has one (a team on NATS), for a courier. */
export function storeInbox(store: TeamStore): Courier['inbox'] {
  if (!store.deliver) return undefined;
  return { where: `${store.root} (inbox stream)`, put: (envelope) => store.deliver!(envelope) };
}

/** One way tried within an attempt. */
export interface PathReport {
  via: 'federated' | 'direct' | 'nats';
  url: string;
  outcome: 'delivered' | 'duplicate' | 'failed';
  seconds: number;
  code?: ErrorCode;
  /** Why this path was tried (a fallback, a new address) or skipped short. */
  note?: string;
}

export type Attempt =
  | { ok: true; via: 'federated' | 'direct' | 'nats'; seconds: number; attempts: number; paths: PathReport[] }
  | { ok: false; error: OisError; seconds: number; attempts: number; paths: PathReport[] };

/** How long a presence reading that says "down" is believed, by a process that is not the daemon. */
const PRESENCE_FRESH_MS = 60_000;
/** A daemon that presence saw down gets one connect of at most this long. */
const DOWN_CONNECT_TIMEOUT_MS = 1000;
/** The most paths one attempt can take: the daemon, the daemon moved, the gateway, the gateway moved. */
const MAX_PATHS = 4;

/**
 * How long a claim must hold a message: longer than one whole attempt over every path, so that another
 * process (the daemon, another `ois send`) never takes over a message that is still being sent.
 */
export function leaseMsFor(
  settings: Pick<AttemptSettings, 'connectTimeoutMs' | 'timeoutMs' | 'retries'>,
): number {
  return (settings.connectTimeoutMs + settings.timeoutMs) * (settings.retries + 1) * MAX_PATHS + 5000;
}

/**
 * Delivers one message once (each path with the settings' retries): through the peer's daemon when it
 * publishes one and this instance can sign, else (or when that daemon cannot be reached) into its gateway
 * with its token. A peer that cannot be reached is looked up on the ZeroTier network once. Never throws:
 * the result says what happened on every path.
 */
export async function attemptDelivery(message: QueuedMessage, courier: Courier): Promise<Attempt> {
  const started = performance.now();
  const elapsed = () => round((performance.now() - started) / 1000);
  const paths: PathReport[] = [];
  let attempts = 0;
  const now = courier.now ?? Date.now;
  const tryPath = async <T>(
    via: PathReport['via'],
    url: string,
    note: string | undefined,
    send: () => Promise<T & { attempts: number }>,
  ): Promise<T> => {
    const t = performance.now();
    try {
      const result = await send();
      attempts += result.attempts;
      const outcome = (result as { status?: string }).status === 'duplicate' ? 'duplicate' : 'delivered';
      paths.push({
        via,
        url,
        outcome,
        seconds: round((performance.now() - t) / 1000),
        ...(note ? { note } : {}),
      });
      return result;
    } catch (err) {
      const e = asOisError(err);
      attempts += typeof e.details?.attempts === 'number' ? e.details.attempts : 1;
      paths.push({
        via,
        url,
        outcome: 'failed',
        seconds: round((performance.now() - t) / 1000),
        code: e.code,
        ...(note ? { note } : {}),
      });
      throw e;
    }
  };

  try {
    const registry = await courier.registry();
    const agent = findAgent(registry, message.peer);
    if (!agent) {
      throw new OisError('OIS_ERR_AGENT_UNKNOWN', `${message.peer} is no longer in ${registry.file}`, {
        hint: 'drop the message (ois outbox drop ID), or re-add the agent and retry it',
      });
    }
    // A member that is not active gets only the notices about itself; an unverified entry gets nothing.
    const aboutPeer = message.notice !== undefined && agentId(message.notice.subject) === agent.id;
    if (agent.status !== 'active' && !(aboutPeer && agent.status !== 'unverified')) {
      throw new OisError('OIS_ERR_AGENT_INACTIVE', `${agent.name} is ${agent.status}, not active`, {
        hint: `ask an admin why ${agent.name} is ${agent.status}; ois outbox retry ID sends it once it is active`,
      });
    }
    const federation = courier.identity ? federationOf(agent) : null;
    // A body over an envelope's limit goes straight to the gateway (sendMessage let it through only then).
    const fits = Buffer.byteLength(message.body) <= MAX_ENVELOPE_BODY_BYTES;
    let inboxFailed: OisError | null = null;
    if (courier.inbox && courier.identity && federation && fits) {
      // Both on NATS: the envelope goes into the peer's inbox stream, and its daemon takes it from there
      // (now, or when it runs again). A peer without an inbox there, or a cluster that is down, is tried over
      // HTTP next.
      const { inbox, identity } = courier;
      try {
        await tryPath('nats', inbox.where, undefined, async () => {
          const { duplicate } = await inbox.put(sign(message, identity, now()));
          return { attempts: 1, ...(duplicate ? { status: 'duplicate' } : {}) };
        });
        return { ok: true, via: 'nats', seconds: elapsed(), attempts, paths };
      } catch (err) {
        // Whatever kept it from the inbox stream (no inbox there, NATS down, a message over the servers'
        // max_payload, a refusal), the peer may still take it over HTTP; the report keeps why.
        inboxFailed = asOisError(err);
      }
    }
    const token = agent.gateway
      ? ((await resolveToken(courier.home, courier.env, agent.name))?.token ?? null)
      : null;
    const gateway = agent.gateway && token !== null ? { ...agent.gateway, token } : null;
    if (!federation && !gateway) {
      throw new OisError(
        'OIS_ERR_TOKEN_MISSING',
        `no way to reach ${agent.name}: no daemon published and no gateway token`,
        {
          hint: `${agent.name} runs ois serve, or: ois secrets set ${agent.id} --token-stdin`,
        },
      );
    }
    let moved: Moved | null | undefined;
    const relocate = async () => {
      if (moved === undefined) moved = (await courier.relocate?.(agent).catch(() => null)) ?? null;
      return moved;
    };
    let unreachable: OisError | null = null;

    if (federation && courier.identity && (fits || !gateway)) {
      const identity = courier.identity;
      const signed = () => sign(message, identity, now());
      // With a gateway to fall back on, or a daemon presence saw down, the daemon gets one try: a dead
      // daemon URL must cost one short connect, not a round of backoff.
      const down = !gateway ? false : await daemonSeenDown(courier.home, agent.name, now());
      const settings = {
        ...courier.settings,
        ...(gateway || down ? { retries: 0 } : {}),
        ...(down
          ? { connectTimeoutMs: Math.min(courier.settings.connectTimeoutMs, DOWN_CONNECT_TIMEOUT_MS) }
          : {}),
      };
      const note = down ? 'presence saw this daemon down: one short try' : undefined;
      try {
        await tryPath('federated', federation.url, note, () =>
          postEnvelope(federation.url, signed(), settings),
        );
        return { ok: true, via: 'federated', seconds: elapsed(), attempts, paths };
      } catch (err) {
        if (!isOisError(err, 'OIS_ERR_PEER_UNREACHABLE')) throw err;
        unreachable = err;
      }
      const at = (await relocate())?.federationUrl;
      if (at && at !== federation.url) {
        try {
          await tryPath('federated', at, 'its ZeroTier address changed', () =>
            postEnvelope(at, signed(), settings),
          );
          return { ok: true, via: 'federated', seconds: elapsed(), attempts, paths };
        } catch (err) {
          if (!isOisError(err, 'OIS_ERR_PEER_UNREACHABLE')) throw err;
        }
      }
    }

    if (gateway) {
      const text = deliveredText(
        { from: message.from, to: agent.name, id: message.id, at: new Date(message.createdAt) },
        message.body,
      );
      const direct = (url: string) =>
        sessionsSend(
          { url, token: gateway.token, sessionKey: gateway.sessionKey },
          {
            message: text,
            messageId: message.id,
            ...courier.settings,
          },
        );
      const note = unreachable ? 'its daemon cannot be reached: straight to its gateway' : undefined;
      try {
        await tryPath('direct', gateway.url, note, () => direct(gateway.url));
        return { ok: true, via: 'direct', seconds: elapsed(), attempts, paths };
      } catch (err) {
        if (!isOisError(err, 'OIS_ERR_PEER_UNREACHABLE')) throw err;
        unreachable ??= err;
      }
      const at = (await relocate())?.gatewayUrl;
      if (at && at !== gateway.url) {
        await tryPath('direct', at, 'its ZeroTier address changed', () => direct(at));
        return { ok: true, via: 'direct', seconds: elapsed(), attempts, paths };
      }
    }
    throw unreachable ?? inboxFailed!;
  } catch (err) {
    return { ok: false, error: asOisError(err), seconds: elapsed(), attempts, paths };
  }
}

/**
 * Signs a copy for sending now. A copy sent more than a second after the message was written carries
 * `sentAt`, which the receiver's clock window applies to; a first try signs exactly what ois 0.1 signed.
 */
function sign(m: QueuedMessage, identity: Identity, now: number): Envelope {
  const sentAt = now - Date.parse(m.createdAt) > 1000 ? new Date(now).toISOString() : undefined;
  return signEnvelope(
    {
      v: 1,
      id: m.id,
      from: m.from,
      to: m.peer,
      createdAt: m.createdAt,
      body: m.body,
      ...(sentAt ? { sentAt } : {}),
      ...(m.notice ? { notice: { type: m.notice.type, subject: m.notice.subject } } : {}),
      ...(m.thread
        ? {
            type: m.thread.type,
            ...(m.thread.replyTo ? { replyTo: m.thread.replyTo } : {}),
            conversation: m.thread.conversation ?? m.id,
            hops: m.thread.hops ?? 0,
            ...(m.thread.task ? { task: m.thread.task } : {}),
          }
        : {}),
    },
    identity.privateKey,
  );
}

async function daemonSeenDown(home: string, peer: string, now: number): Promise<boolean> {
  const p = (await readPresence(home))[peer];
  return p?.status === 'down' && now - Date.parse(p.checkedAt) < PRESENCE_FRESH_MS;
}

/**
 * Records an attempt in the outbox: delivered, queued again with backoff (what may succeed later), or a
 * dead letter. Returns the message as it is now (null when it was dropped meanwhile).
 */
export function settle(outbox: Outbox, id: string, attempt: Attempt): OutboxMessage | null {
  if (attempt.ok) return outbox.markDelivered(id);
  const { error } = attempt;
  const reason = `${error.code}: ${error.message}`;
  if (!isTransient(error)) return outbox.markFailed(id, reason, { permanent: true });
  const retryAfterMs = retryAfterOf(error);
  return outbox.markFailed(id, reason, retryAfterMs === undefined ? {} : { retryAfterMs });
}

/** The chat log said 'queued' when the message was sent: say when it arrived. Best effort. */
export async function logReceipt(store: TeamStore, self: string, m: OutboxMessage): Promise<void> {
  const at = new Date();
  await appendEntry(store, {
    id: newMessageId(at.getTime()),
    at: at.toISOString(),
    from: self,
    to: [m.peer],
    kind: 'receipt',
    replyTo: m.id.split('.')[0]!,
    body: `Delivered to ${m.peer} after ${m.attempts} attempt${m.attempts === 1 ? '' : 's'} (queued at ${new Date(m.createdAt).toISOString()}).`,
    deliveries: [{ to: m.peer, outcome: 'delivered' }],
  }).catch(() => {});
}

/** An attempt of `drainPeer`, and where the outbox left the message after it (null: dropped meanwhile). */
export interface Drained {
  attempt: Attempt;
  state: OutboxMessage['state'] | null;
}

/**
 * Sends what waits for one peer now, in order, without a daemon (`ois send` and `ois outbox retry` on an
 * instance that runs no `ois serve`): claims the peer's oldest pending message, attempts it, settles it,
 * and goes on until `until` was sent, the line is empty, one fails, or another process holds the head.
 * Returns each attempt by outbox id.
 */
export async function drainPeer(
  outbox: Outbox,
  peer: string,
  courier: Courier,
  log: { store: TeamStore; self: string; until?: string; skipReceipt?: string },
): Promise<Map<string, Drained>> {
  const results = new Map<string, Drained>();
  const leaseMs = leaseMsFor(courier.settings);
  for (;;) {
    const m = outbox.claimHead(peer, leaseMs);
    if (!m) return results;
    const attempt = await attemptDelivery(readQueued(m.payload), courier);
    const after = settle(outbox, m.id, attempt);
    results.set(m.id, { attempt, state: after?.state ?? null });
    if (!attempt.ok) return results;
    // The chat log said 'queued' when these were sent: say when they arrived (not for the message a send is
    // logging itself right now).
    if (after && m.id !== log.skipReceipt) await logReceipt(log.store, log.self, after);
    if (m.id === log.until) return results;
  }
}

/**
 * The daemon's outbox sender: every second (and at once when a peer comes back) it claims each peer's
 * oldest due message, attempts it once, and settles it. Per-peer order holds because the outbox hands out a
 * peer's next message only after the previous one is settled.
 */
export class OutboxSender {
  readonly #outbox: Outbox;
  readonly #courier: Courier;
  readonly #store: TeamStore;
  readonly #self: string;
  #timer: NodeJS.Timeout | null = null;
  #draining: Promise<void> | null = null;
  #again = false;
  #stopped = false;

  constructor(outbox: Outbox, courier: Courier, log: { store: TeamStore; self: string }) {
    this.#outbox = outbox;
    this.#courier = courier;
    this.#store = log.store;
    this.#self = log.self;
  }

  start(): void {
    this.#timer = setInterval(() => this.kick(), 1000);
    this.#timer.unref();
    this.kick();
  }

  kick(): void {
    if (this.#stopped) return;
    if (this.#draining) {
      this.#again = true;
      return;
    }
    this.#draining = this.#drain().finally(() => {
      this.#draining = null;
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#draining;
  }

  async #drain(): Promise<void> {
    const leaseMs = leaseMsFor(this.#courier.settings);
    do {
      this.#again = false;
      const due = this.#outbox.claimDue(32, leaseMs);
      await Promise.all(
        due.map(async (m) => {
          let attempt: Attempt;
          try {
            attempt = await attemptDelivery(readQueued(m.payload), this.#courier);
          } catch (err) {
            attempt = { ok: false, error: asOisError(err), seconds: 0, attempts: 0, paths: [] };
          }
          const after = settle(this.#outbox, m.id, attempt);
          if (attempt.ok && after) await logReceipt(this.#store, this.#self, after);
        }),
      );
      if (due.length > 0) this.#again = true;
    } while (this.#again && !this.#stopped);
  }
}

function asOisError(err: unknown): OisError {
  return isOisError(err)
    ? err
    : new OisError('OIS_ERR_INTERNAL', `unexpected error: ${(err as Error)?.message ?? String(err)}`, {
        cause: err,
      });
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
