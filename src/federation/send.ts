import {
  appendEntry,
  type ChatDelivery,
  type ChatEntry,
  type DeliveryOutcome,
  type NoticeRef,
} from '../chatlog/index.js';
import type { Env } from '../config/index.js';
import { type ErrorCode, isOisError, OisError } from '../errors.js';
import type { Identity } from '../membership/index.js';
import type { Agent, Registry } from '../registry/index.js';
import { agentId, findAgent, requireAgent } from '../registry/index.js';
import type { TeamStore } from '../team/index.js';
import { MAX_GATEWAY_BODY_BYTES, type SendResult, sessionsSend } from '../transport/index.js';
import { postEnvelope } from './client.js';
import {
  type Attempt,
  attemptDelivery,
  type Courier,
  drainPeer,
  leaseMsFor,
  type Moved,
  type PathReport,
  type QueuedMessage,
  settle,
  storeInbox,
  type Thread,
} from './dispatch.js';
import {
  type Envelope,
  MAX_ENVELOPE_BODY_BYTES,
  MAX_WAIT_SECONDS,
  signEnvelope,
  verifyEnvelope,
} from './envelope.js';
import { checkBody, deliveredText, newMessageId } from './message.js';
import type { Outbox } from './outbox.js';
import { type FederationRef, federationOf } from './peer.js';

const DEFAULT_SESSION_KEY = 'agent:main:main';

/** How one recipient is reached: through its daemon (signed envelope) or its gateway (token). */
export type Recipient =
  | { mode: 'federated'; agent: Agent; federation: FederationRef; token: string | null }
  | { mode: 'direct'; agent: Agent & { gateway: NonNullable<Agent['gateway']> }; token: string };

export interface TransportSettings {
  connectTimeoutMs: number;
  timeoutMs: number;
  retries: number;
  /** Outer session key of waited sends. */
  callerSessionKey: string;
  /** First retry delay; tests shorten it. */
  minRetryDelayMs?: number;
}

/**
 * Chooses the recipients: the named agents, or with `all` every other active agent that has a gateway.
 * Every problem that would make a send fail before it starts is found here, so that bad input sends
 * nothing and writes nothing.
 */
export async function planRecipients(
  registry: Registry,
  self: string,
  target: { names: string[] } | { all: true },
  tokenOf: (agent: Agent) => Promise<string | null>,
  skipped: (agent: Agent, why: string) => void = () => {},
  /** Whether this instance can sign envelopes (has an identity); waited sends always go direct. */
  federated = false,
  /**
   * A team notice: it may go to a member that is not active when it is about that member, may come from
   * one when it is about this instance, and a recipient that cannot be reached is skipped, not an error.
   */
  notice?: NoticeRef,
): Promise<Recipient[]> {
  const me = findAgent(registry, self);
  const about = (a: Agent) => notice !== undefined && agentId(notice.subject) === a.id;
  if (me && me.status !== 'active' && !about(me)) {
    throw new OisError(
      'OIS_ERR_AGENT_INACTIVE',
      `this instance (${me.name}) is ${me.status}: it cannot send`,
      {
        hint:
          me.status === 'pending'
            ? 'an admin approves your join request first (ois members pending on their side)'
            : me.status === 'unverified'
              ? "AGENTS.md's entry for this instance is not backed by the membership records: ois doctor says why"
              : `ask an admin why ${me.name} is ${me.status}`,
      },
    );
  }
  let agents: Agent[];
  if ('all' in target) {
    agents = [];
    for (const a of registry.agents) {
      if (a.id === me?.id || a.name.toLowerCase() === self.toLowerCase()) continue;
      if (a.status !== 'active') skipped(a, `status ${a.status}`);
      else if (!a.gateway && !(federated && federationOf(a))) skipped(a, 'no gateway in AGENTS.md');
      else agents.push(a);
    }
    if (agents.length === 0) {
      throw new OisError(
        'OIS_ERR_AGENT_UNKNOWN',
        `no other active agent with a gateway in ${registry.file}`,
        {
          hint: 'peers add themselves with `ois join` on their machines',
        },
      );
    }
  } else {
    agents = [];
    for (const name of target.names) {
      const a = requireAgent(registry, name);
      if (a.id === me?.id) {
        throw new OisError('OIS_ERR_AGENT_SELF', `${a.name} is this instance`, {
          hint: 'send to a peer: ois agents lists them',
        });
      }
      if (a.status !== 'active' && !(about(a) && a.status !== 'unverified')) {
        throw new OisError('OIS_ERR_AGENT_INACTIVE', `${a.name} is ${a.status}, not active`, {
          hint:
            a.status === 'pending'
              ? 'an admin approves new members first'
              : a.status === 'unverified'
                ? `${a.name}'s entry in AGENTS.md is not backed by the team's membership records (hand-edited?): ois doctor says why`
                : `ask an admin why ${a.name} is ${a.status}`,
        });
      }
      if (!a.gateway) {
        throw new OisError(
          'OIS_ERR_AGENT_NO_GATEWAY',
          `${a.name} has no gateway address in ${registry.file}`,
          {
            hint: `${a.name} runs \`ois join\` on its machine to publish its gateway`,
          },
        );
      }
      if (!agents.includes(a)) agents.push(a);
    }
  }
  let tokens = await Promise.all(agents.map(tokenOf));
  let missing = agents.filter((a, i) => tokens[i] === null && !(federated && federationOf(a)));
  if (notice && missing.length > 0) {
    // A notice that cannot reach someone now is still in the chat log; it is not worth failing for.
    for (const a of missing) skipped(a, 'no daemon published and no gateway token');
    tokens = tokens.filter((_, i) => !missing.includes(agents[i]!));
    agents = agents.filter((a) => !missing.includes(a));
    missing = [];
  }
  if (missing.length > 0) {
    const names = missing.map((a) => a.name);
    const first = missing[0]!;
    throw new OisError('OIS_ERR_TOKEN_MISSING', `no gateway token for ${names.join(', ')}`, {
      hint: `ask ${first.name}'s owner for a token, then: ois secrets set ${first.id} --token-stdin (or export OIS_TOKEN_${first.id.toUpperCase().replace(/[^A-Z0-9]/g, '_')}); peers that run ois serve need no token`,
      details: { agents: names },
    });
  }
  return agents.map((agent, i): Recipient => {
    const federation = federated ? federationOf(agent) : null;
    if (federation) return { mode: 'federated', agent, federation, token: tokens[i] ?? null };
    return {
      mode: 'direct',
      agent: agent as Extract<Recipient, { mode: 'direct' }>['agent'],
      token: tokens[i]!,
    };
  });
}

export interface DeliveryReport {
  to: string;
  /** For `queued`: why it waits (the error of the attempt, or earlier messages ahead of it). */
  note?: string;
  /** For `queued` after a failed attempt: that attempt's error code. */
  code?: ErrorCode;
  via?: 'federated' | 'direct' | 'nats';
  outcome: DeliveryOutcome;
  /** The whole time this delivery took, every path and earlier queued messages included. */
  seconds: number;
  attempts?: number;
  /** Every way tried, in order, with its time and why it was tried. */
  paths?: PathReport[];
  reply?: string;
  error?: OisError;
}

export interface SendReport {
  id: string;
  at: string;
  from: string;
  deliveries: DeliveryReport[];
  /** Where the exchange was logged, or why it could not be. */
  log: { path: string } | { error: OisError };
}

export interface SendInput {
  store: TeamStore;
  from: string;
  recipients: Recipient[];
  body: string;
  /** Seconds to wait for each peer's reply; 0 or undefined: do not wait. */
  waitSeconds?: number;
  transport: TransportSettings;
  /** This instance's home and environment (tokens of peers are looked up at each attempt). */
  home: string;
  env: Env;
  /** The current registry, read again at each attempt; default: the registry the recipients came from. */
  registry: () => Promise<Registry>;
  /** Signs envelopes for federated recipients. */
  identity?: Identity;
  /** For a peer that cannot be reached: where it is now, when its ZeroTier address changed. */
  relocate?: (agent: Agent) => Promise<Moved | null>;
  /** Where undeliverable messages wait; without it (or with queue false) a failure is final. */
  outbox?: Outbox;
  queue?: boolean;
  /**
   * No daemon sends this instance's outbox: a message that would wait behind earlier ones to the same peer
   * sends them (in order) and then itself, now.
   */
  drainNow?: boolean;
  signal?: AbortSignal;
  now?: () => Date;
  /** A team notice: logged as kind `notice`, and carried in the envelope. */
  notice?: NoticeRef;
  /** A reply, a task or a task update: logged as its kind, signed into the envelope. */
  thread?: Thread;
  /** The message id to use (a task is sent under its own id); default a new one. */
  id?: string;
}

/**
 * Sends one message to its recipients concurrently, then appends the exchange to today's chat log: one entry
 * for the message with every outcome, and one per reply. Throws only for bad input (before anything is
 * sent); delivery failures are in the report.
 */
export async function sendMessage(input: SendInput): Promise<SendReport> {
  const body = checkBody(input.body.replace(/\r\n/g, '\n'));
  const now = input.now ?? (() => new Date());
  const at = now();
  const id = input.id ?? newMessageId(at.getTime());
  checkSize(input, body, id, at);
  const deliveries = await Promise.all(input.recipients.map((r) => deliverOne(input, r, body, id, at)));
  const log = await logExchange(
    input.store,
    now,
    {
      id,
      at: at.toISOString(),
      from: input.from,
      to: input.recipients.map((r) => r.agent.name),
      ...entryKind(input),
      body,
      deliveries: deliveries.map(toChatDelivery),
    },
    deliveries,
  );
  return { id, at: at.toISOString(), from: input.from, deliveries, log };
}

/** The chat-log kind of what is sent, with what that kind carries. */
function entryKind(input: SendInput): Pick<ChatEntry, 'kind' | 'notice' | 'replyTo' | 'task'> {
  if (input.notice) return { kind: 'notice', notice: input.notice };
  const t = input.thread;
  if (!t) return { kind: 'message' };
  const task = t.task ? { task: { id: t.task.id, status: t.task.status } } : {};
  return { kind: t.type, ...(t.replyTo ? { replyTo: t.replyTo } : {}), ...task };
}

/** The exact JSON bytes the gateway will receive, for the 2 MiB check before anything is sent. */
function payloadBytes(r: Recipient, text: string, wait: number, callerSessionKey: string): number {
  const args = {
    sessionKey: r.agent.gateway?.sessionKey ?? DEFAULT_SESSION_KEY,
    message: text,
    timeoutSeconds: wait,
  };
  const payload =
    wait > 0
      ? { tool: 'sessions_send', args, sessionKey: callerSessionKey }
      : { tool: 'sessions_send', args };
  return Buffer.byteLength(JSON.stringify(payload));
}

const TOO_LARGE_HINT =
  "put large content in the team's shared/ folder (ois share put FILE) and send its name";

/** The envelope's limit and the exact JSON bytes each gateway would receive, before anything is sent. */
function checkSize(input: SendInput, body: string, id: string, at: Date): void {
  const wait = input.waitSeconds ?? 0;
  // Over an envelope's limit, a peer can still take it at its gateway when this instance has its token.
  if (
    input.recipients.some((r) => r.mode === 'federated' && (r.token === null || !r.agent.gateway)) &&
    Buffer.byteLength(body) > MAX_ENVELOPE_BODY_BYTES
  ) {
    throw new OisError(
      'OIS_ERR_MESSAGE_TOO_LARGE',
      `the message is over ${MAX_ENVELOPE_BODY_BYTES} bytes, the most an envelope carries`,
      { hint: TOO_LARGE_HINT },
    );
  }
  for (const r of input.recipients) {
    const text = deliveredText({ from: input.from, to: r.agent.name, id, at }, body);
    const bytes = payloadBytes(r, text, wait, input.transport.callerSessionKey);
    if (bytes > MAX_GATEWAY_BODY_BYTES) {
      throw new OisError(
        'OIS_ERR_MESSAGE_TOO_LARGE',
        `the message is ${bytes} bytes as sent; a gateway takes at most ${MAX_GATEWAY_BODY_BYTES}`,
        { hint: TOO_LARGE_HINT, details: { bytes, limit: MAX_GATEWAY_BODY_BYTES } },
      );
    }
  }
}

function settingsOf(input: SendInput) {
  return {
    connectTimeoutMs: input.transport.connectTimeoutMs,
    timeoutMs: input.transport.timeoutMs,
    retries: input.transport.retries,
    ...(input.transport.minRetryDelayMs === undefined
      ? {}
      : { minRetryDelayMs: input.transport.minRetryDelayMs }),
    ...(input.signal ? { signal: input.signal } : {}),
  };
}

/** Delivers to one recipient: a waited send straight to its gateway, anything else through the outbox. */
async function deliverOne(
  input: SendInput,
  r: Recipient,
  body: string,
  id: string,
  at: Date,
): Promise<DeliveryReport> {
  const took = stopwatch();
  const to = r.agent.name;
  if ((input.waitSeconds ?? 0) > 0) {
    if (r.mode === 'federated' && input.identity) return waitedFederated(input, r, body, id, at);
    return waitedSend(input, r, body, id, at);
  }

  const message: QueuedMessage = {
    v: 2,
    peer: to,
    id,
    from: input.from,
    createdAt: at.toISOString(),
    body,
    ...(input.notice ? { notice: input.notice } : {}),
    ...(input.thread ? { thread: input.thread } : {}),
  };
  const courier: Courier = {
    home: input.home,
    env: input.env,
    identity: input.identity ?? null,
    registry: input.registry,
    settings: settingsOf(input),
    ...(input.relocate ? { relocate: input.relocate } : {}),
    ...(input.store.deliver ? { inbox: storeInbox(input.store)! } : {}),
  };
  const outbox = input.queue ? input.outbox : undefined;
  if (!outbox) return fromAttempt(to, await attemptDelivery(message, courier), null);

  // Durable first: the message is in the outbox before anything goes out, so a crash or a peer that is down
  // never loses it.
  const key = `${id}.${r.agent.id}`;
  const queued = outbox.enqueue(
    { id: key, peer: to, payload: JSON.stringify(message), mode: r.mode },
    { claim: true, leaseMs: leaseMsFor(courier.settings) },
  );
  if (queued.state === 'inflight') {
    const attempt = await attemptDelivery(message, courier);
    return fromAttempt(to, attempt, settle(outbox, key, attempt)?.state ?? null);
  }
  // Earlier messages to this peer wait: they go first, in order.
  if (input.drainNow) {
    const results = await drainPeer(outbox, to, courier, {
      store: input.store,
      self: input.from,
      until: key,
      skipReceipt: key,
    });
    const own = results.get(key);
    const earlier = results.size - (own ? 1 : 0);
    if (own) {
      return {
        ...fromAttempt(to, own.attempt, own.state),
        seconds: took(),
        ...(earlier > 0 ? { note: `sent after ${earlier} earlier queued message(s)` } : {}),
      };
    }
    const blocker = [...results.values()].find((d) => !d.attempt.ok)?.attempt;
    if (blocker && !blocker.ok) {
      return {
        to,
        outcome: 'queued',
        seconds: took(),
        note: `behind an earlier message to ${to} that could not be sent: ${blocker.error.message}`,
        code: blocker.error.code,
        paths: blocker.paths,
      };
    }
  }
  const ahead = outbox.list({ peer: to, state: ['queued', 'inflight'] }).filter((m) => m.id !== key).length;
  return {
    to,
    outcome: 'queued',
    seconds: took(),
    note: `waits behind ${ahead} earlier message${ahead === 1 ? '' : 's'} to ${to}, sent in order`,
  };
}

/** A report of an attempt; `state` is where the outbox left the message (queued: it is retried later). */
function fromAttempt(to: string, a: Attempt, state: string | null): DeliveryReport {
  const base = { to, seconds: a.seconds, attempts: a.attempts, paths: a.paths };
  if (a.ok) return { ...base, outcome: 'delivered', via: a.via };
  if (state === 'queued') return { ...base, outcome: 'queued', note: a.error.message, code: a.error.code };
  return {
    ...base,
    outcome: a.error.code === 'OIS_ERR_DELIVERY_UNKNOWN' ? 'unknown' : 'failed',
    error: a.error,
  };
}

/**
 * A waited send goes to the gateway even for a peer with a daemon (federation v1 does not carry replies):
 * never queued, since its caller waits for the reply now.
 */
async function waitedSend(
  input: SendInput,
  r: Recipient,
  body: string,
  id: string,
  at: Date,
): Promise<DeliveryReport> {
  const took = stopwatch();
  const text = deliveredText({ from: input.from, to: r.agent.name, id, at }, body);
  const paths: PathReport[] = [];
  const send = async (target: { url: string; token: string; sessionKey: string }, note?: string) => {
    const t = performance.now();
    try {
      const result = await sessionsSend(target, {
        message: text,
        waitSeconds: input.waitSeconds ?? 0,
        callerSessionKey: input.transport.callerSessionKey,
        messageId: id,
        ...settingsOf(input),
      });
      paths.push({
        via: 'direct',
        url: target.url,
        outcome: 'delivered',
        seconds: round((performance.now() - t) / 1000),
        ...(note ? { note } : {}),
      });
      return result;
    } catch (err) {
      const code = isOisError(err) ? err.code : 'OIS_ERR_INTERNAL';
      paths.push({
        via: 'direct',
        url: target.url,
        outcome: 'failed',
        seconds: round((performance.now() - t) / 1000),
        code,
        ...(note ? { note } : {}),
      });
      throw err;
    }
  };
  try {
    const target = directTarget(r);
    let result: SendResult;
    try {
      result = await send(target);
    } catch (err) {
      if (!isOisError(err, 'OIS_ERR_PEER_UNREACHABLE') || !input.relocate) throw err;
      const moved = (await input.relocate(r.agent).catch(() => null))?.gatewayUrl;
      if (!moved) throw err;
      result = await send({ ...target, url: moved }, 'its ZeroTier address changed');
    }
    return { to: r.agent.name, ...fromResult(result), seconds: took(), via: 'direct', paths };
  } catch (err) {
    const error = isOisError(err)
      ? err
      : new OisError('OIS_ERR_INTERNAL', `unexpected error: ${(err as Error).message}`, { cause: err });
    return {
      to: r.agent.name,
      outcome: error.code === 'OIS_ERR_DELIVERY_UNKNOWN' ? 'unknown' : 'failed',
      seconds: took(),
      paths,
      error,
    };
  }
}

/** Appends the message entry and one entry per reply; a log that cannot be written is reported, not thrown. */
async function logExchange(
  store: TeamStore,
  now: () => Date,
  message: ChatEntry,
  deliveries: DeliveryReport[],
): Promise<SendReport['log']> {
  const entries: ChatEntry[] = [message];
  for (const d of deliveries) {
    if (d.reply === undefined) continue;
    const replyAt = now();
    entries.push({
      id: newMessageId(replyAt.getTime()),
      at: replyAt.toISOString(),
      from: d.to,
      to: [message.from],
      kind: 'reply',
      replyTo: message.id,
      body: d.reply.trim() === '' ? '(empty reply)' : d.reply,
      deliveries: [{ to: message.from, outcome: 'delivered' }],
    });
  }
  try {
    let path = '';
    for (const entry of entries) path = (await appendEntry(store, entry)).path;
    return { path };
  } catch (err) {
    return {
      error: isOisError(err) ? err : new OisError('OIS_ERR_STORAGE', (err as Error).message, { cause: err }),
    };
  }
}

/**
 * A waited send to a peer that runs a daemon: the envelope asks its daemon to wait on its own gateway, and
 * the answer comes back signed by the peer, so no gateway token ever leaves its host. A daemon that cannot
 * be reached falls back to its gateway when this instance has the token.
 */
async function waitedFederated(
  input: SendInput,
  r: Extract<Recipient, { mode: 'federated' }>,
  body: string,
  id: string,
  at: Date,
): Promise<DeliveryReport> {
  const took = stopwatch();
  const wait = Math.min(MAX_WAIT_SECONDS, Math.max(1, Math.ceil(input.waitSeconds ?? 0)));
  const envelope = signEnvelope(
    {
      v: 1,
      id,
      from: input.from,
      to: r.agent.name,
      createdAt: at.toISOString(),
      body,
      type: 'message',
      conversation: id,
      hops: 0,
      wait,
      ...(input.notice ? { notice: input.notice } : {}),
    },
    input.identity!.privateKey,
  );
  const t = performance.now();
  try {
    const result = await postEnvelope(r.federation.url, envelope, {
      ...settingsOf(input),
      timeoutMs: wait * 1000 + input.transport.timeoutMs,
    });
    const paths: PathReport[] = [
      {
        via: 'federated',
        url: r.federation.url,
        outcome: 'delivered',
        seconds: round((performance.now() - t) / 1000),
      },
    ];
    const base = { to: r.agent.name, via: 'federated' as const, attempts: result.attempts, paths };
    if (result.status !== 'replied')
      return { ...base, outcome: result.status === 'no_reply' ? 'no_reply' : 'delivered', seconds: took() };
    const reply = checkedReply(result.reply, envelope, r.federation.publicKey);
    return { ...base, outcome: 'replied', reply: reply.body, seconds: took() };
  } catch (err) {
    const error = isOisError(err)
      ? err
      : new OisError('OIS_ERR_INTERNAL', `unexpected error: ${(err as Error).message}`, { cause: err });
    if (error.code === 'OIS_ERR_PEER_UNREACHABLE' && r.agent.gateway && r.token !== null) {
      const direct = await waitedSend(input, r, body, id, at);
      return { ...direct, seconds: took() };
    }
    return { to: r.agent.name, outcome: 'failed', seconds: took(), via: 'federated', error };
  }
}

/** The reply a daemon answered a waited envelope with: its sender's signature, addressed back, threaded. */
function checkedReply(raw: unknown, sent: Envelope, publicKey: string): Envelope {
  const e = raw as Envelope;
  const ok =
    typeof e === 'object' &&
    e !== null &&
    e.v === 1 &&
    typeof e.body === 'string' &&
    typeof e.sig === 'string' &&
    e.from === sent.to &&
    e.to === sent.from &&
    e.type === 'reply' &&
    e.replyTo === sent.id &&
    verifyEnvelope(e, publicKey);
  if (!ok) {
    throw new OisError('OIS_ERR_SIGNATURE_INVALID', `the reply to ${sent.id} is not signed by ${sent.to}`, {
      hint: `${sent.to}'s daemon answered with a reply its key in AGENTS.md does not sign; ois doctor ${sent.to}`,
    });
  }
  return e;
}

function directTarget(r: Recipient): { url: string; token: string; sessionKey: string } {
  if (r.mode === 'direct')
    return { url: r.agent.gateway.url, token: r.token, sessionKey: r.agent.gateway.sessionKey };
  if (!r.agent.gateway || r.token === null) {
    throw new OisError('OIS_ERR_TOKEN_MISSING', `a waited send to ${r.agent.name} needs its gateway token`, {
      hint: `${r.agent.name} runs no daemon (ois serve) to wait for its answer: send without --wait, or ois secrets set ${r.agent.id} --token-stdin`,
    });
  }
  return { url: r.agent.gateway.url, token: r.token, sessionKey: r.agent.gateway.sessionKey };
}

function fromResult(result: SendResult): Omit<DeliveryReport, 'to' | 'seconds'> {
  const base = { attempts: result.attempts };
  switch (result.status) {
    case 'accepted':
      return { outcome: 'delivered', ...base };
    case 'ok':
      return { outcome: 'replied', reply: result.reply, ...base };
    case 'no_reply':
      return { outcome: 'no_reply', ...base };
    case 'timeout':
      return { outcome: 'timeout', ...base };
  }
}

function toChatDelivery(d: DeliveryReport): ChatDelivery {
  const code = d.error?.code ?? d.code;
  return { to: d.to, outcome: d.outcome, seconds: d.seconds, ...(code ? { code } : {}) };
}

/** Seconds since the call, rounded to the millisecond, each time the returned function is called. */
function stopwatch(): () => number {
  const started = performance.now();
  return () => round((performance.now() - started) / 1000);
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
