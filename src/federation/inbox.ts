import { isOisError, OisError } from '../errors.js';
import { type Agent, agentId, findAgent, type Registry } from '../registry/index.js';
import { type Envelope, sentTimeOf, type UnsignedEnvelope, verifyEnvelope } from './envelope.js';
import { deliveredText, newMessageId } from './message.js';
import type { SeenStore } from './seen-store.js';

/** Who an envelope claims to be from, and whether the signature is theirs. */
export interface VerifiedSender {
  sender: Agent | null;
  valid: boolean;
}

export interface InboxLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface InboxDeps {
  /** This instance's agent name. */
  self: string;
  registry: () => Promise<Registry>;
  seen: SeenStore;
  /**
   * Puts the text into this instance's own gateway session; throws an OisError when it cannot. For an
   * envelope with `wait`, waits that long for the assistant's answer and returns it.
   */
  deliver: (text: string, envelope: Envelope) => Promise<unknown>;
  /** Signs this instance's answer to a waited envelope (a `reply` envelope back to its sender). */
  sign?: (reply: UnsignedEnvelope) => Envelope;
  /** Checks an envelope before it is delivered (the task rules); throws the OisError to refuse it with. */
  accept?: (envelope: Envelope, sender: Agent) => void;
  /** The most automatic answers a conversation may have gone through (config `federation.maxHops`). */
  maxHops?: number;
  /** Called once an envelope is delivered (the task store records tasks and their updates). */
  onDelivered?: (envelope: Envelope, sender: Agent) => Promise<void>;
  /** The clock window, either way, for when a copy was sent. */
  skewSeconds: number;
  now: () => number;
  /** Notice types this instance muted (config `notices.mute`): acknowledged, not put into its session. */
  muted?: (type: string) => boolean;
  log: InboxLog;
}

export interface Received {
  status: 'delivered' | 'duplicate' | 'replied' | 'no_reply';
  id: string;
  /** For `replied`: the assistant's answer, signed by this instance. */
  reply?: Envelope;
}

/** What an assistant answers when it has nothing to say (OpenClaw's agent-to-agent convention). */
export const SKIP_REPLIES = new Set(['REPLY_SKIP', 'NO_REPLY', 'ANNOUNCE_SKIP']);

/** Looks up the claimed sender in the registry and checks the signature against its published key. */
export async function verifySender(envelope: Envelope, registry: Registry): Promise<VerifiedSender> {
  const sender = findAgent(registry, envelope.from);
  const publicKey = publicKeyOf(sender);
  return { sender, valid: publicKey !== null && verifyEnvelope(envelope, publicKey) };
}

function publicKeyOf(agent: Agent | null): string | null {
  const key = (agent?.extra.federation as { publicKey?: unknown } | undefined)?.publicKey;
  return typeof key === 'string' ? key : null;
}

/**
 * The receive pipeline of specs/federation.md, after the schema and the rate limit: recipient, sender,
 * status, signature, freshness, dedupe by (sender, id), delivery into the local gateway. Returns what to
 * acknowledge; throws the OisError to answer with.
 */
export async function receiveEnvelope(
  envelope: Envelope,
  verified: VerifiedSender,
  deps: InboxDeps,
): Promise<Received> {
  if (agentId(envelope.to) !== agentId(deps.self)) {
    throw new OisError(
      'OIS_ERR_RECIPIENT_MISMATCH',
      `this is the daemon of ${deps.self}, not of ${envelope.to}`,
    );
  }
  const { sender, valid } = verified;
  if (!sender || publicKeyOf(sender) === null) {
    throw new OisError(
      'OIS_ERR_SENDER_UNKNOWN',
      `${envelope.from} is not an agent with a public key in AGENTS.md`,
    );
  }
  if (sender.status === 'unverified') {
    throw new OisError(
      'OIS_ERR_SENDER_UNVERIFIED',
      `the entry of ${sender.name} in AGENTS.md is not backed by the team's membership records`,
      { hint: `ois doctor on ${deps.self} says why; an admin approves ${sender.name} again` },
    );
  }
  // A member that is not active sends only the notices about its own membership (a join request, a leave).
  const aboutSender = envelope.notice !== undefined && agentId(envelope.notice.subject) === sender.id;
  if (sender.status !== 'active' && !aboutSender) {
    throw new OisError('OIS_ERR_SENDER_INACTIVE', `${sender.name} is ${sender.status} in AGENTS.md`);
  }
  const me = findAgent(await deps.registry(), deps.self);
  const aboutMe = envelope.notice !== undefined && agentId(envelope.notice.subject) === agentId(deps.self);
  if (me && me.status !== 'active' && !aboutMe) {
    throw new OisError(
      'OIS_ERR_RECIPIENT_INACTIVE',
      `${deps.self} is ${me.status}: it receives only the notices about its own membership`,
      { hint: `${deps.self} waits for an admin (ois members ls)` },
    );
  }
  if (!valid) {
    throw new OisError(
      'OIS_ERR_SIGNATURE_INVALID',
      `the signature of ${envelope.id} does not verify with the key of ${sender.name} in AGENTS.md`,
    );
  }
  checkFreshness(envelope, deps);
  const hops = envelope.hops ?? 0;
  if (deps.maxHops !== undefined && hops > deps.maxHops) {
    // Two assistants answering each other forever: the conversation stops here, and says so.
    deps.log.warn(
      { id: envelope.id, from: sender.name, conversation: envelope.conversation, hops },
      'loop guard: conversation stopped at the hop limit',
    );
    throw new OisError(
      'OIS_ERR_HOP_LIMIT',
      `conversation ${envelope.conversation ?? envelope.id} reached ${hops} automatic answers (limit ${deps.maxHops})`,
      { hint: 'start a new conversation with ois send; raise federation.maxHops only if the loop is wanted' },
    );
  }

  deps.accept?.(envelope, sender);
  const state = deps.seen.claim(envelope.id, sender.name);
  if (state === 'delivered') return { status: 'duplicate', id: envelope.id };
  if (state === 'delivering') {
    throw new OisError('OIS_ERR_LOCAL_GATEWAY', `${envelope.id} is being delivered right now`, {
      details: { retryAfterSeconds: 2 },
    });
  }
  const others = deps.seen.otherSenders(envelope.id, sender.name);
  if (others.length > 0) {
    // Ids are random: the same one from two members means one of them copied it (from the chat log). Both
    // are delivered, each under its own sender's name; the operator should know.
    deps.log.warn(
      { id: envelope.id, from: sender.name, others },
      'this message id also came from another sender',
    );
  }
  if (envelope.notice && deps.muted?.(envelope.notice.type)) {
    // This instance muted the type: acknowledged, kept in the chat log by the sender, not put in a session.
    deps.seen.delivered(envelope.id, sender.name);
    deps.log.info({ id: envelope.id, notice: envelope.notice.type }, 'muted notice: not delivered');
    return { status: 'delivered', id: envelope.id };
  }
  const text = deliveredText(
    { from: sender.name, to: deps.self, id: envelope.id, at: new Date(envelope.createdAt) },
    envelope.body,
  );
  let answer: { reply?: string | null } | undefined;
  try {
    // For a waited envelope the deliverer resolves to the assistant's answer, `{reply}`.
    answer = (await deps.deliver(text, envelope)) as typeof answer;
  } catch (err) {
    if (isOisError(err, 'OIS_ERR_DELIVERY_UNKNOWN')) {
      // It may be in the session already: never deliver it twice; the sender gets its acknowledgement.
      deps.log.warn({ id: envelope.id }, 'delivery into the local gateway is unknown; not repeating it');
      deps.seen.delivered(envelope.id, sender.name);
      return { status: 'delivered', id: envelope.id };
    }
    deps.seen.release(envelope.id, sender.name);
    deps.log.error(
      { id: envelope.id, code: isOisError(err) ? err.code : undefined, message: (err as Error).message },
      'local gateway refused',
    );
    throw new OisError(
      'OIS_ERR_LOCAL_GATEWAY',
      `the gateway of ${deps.self} did not take the message; retry later`,
      { cause: err },
    );
  }
  deps.seen.delivered(envelope.id, sender.name);
  deps.log.info({ id: envelope.id, from: sender.name }, 'delivered');
  await deps
    .onDelivered?.(envelope, sender)
    .catch((err: unknown) =>
      deps.log.warn({ id: envelope.id, message: (err as Error).message }, 'recording the delivery failed'),
    );
  if (envelope.wait === undefined) return { status: 'delivered', id: envelope.id };
  const replyText = answer && typeof answer.reply === 'string' ? answer.reply.trim() : '';
  if (replyText === '' || SKIP_REPLIES.has(replyText) || !deps.sign)
    return { status: 'no_reply', id: envelope.id };
  const reply = deps.sign({
    v: 1,
    id: newMessageId(deps.now()),
    from: deps.self,
    to: sender.name,
    createdAt: new Date(deps.now()).toISOString(),
    body: answer!.reply!,
    type: 'reply',
    replyTo: envelope.id,
    conversation: envelope.conversation ?? envelope.id,
    hops: (envelope.hops ?? 0) + 1,
  });
  return { status: 'replied', id: envelope.id, reply };
}

/**
 * A copy must have been sent within the clock window (a replay of an old copy is refused), and the message
 * must be young enough that its id is still remembered (a pruned id can never be delivered again).
 */
function checkFreshness(envelope: Envelope, deps: InboxDeps): void {
  const now = deps.now();
  const window = deps.skewSeconds;
  const sent = sentTimeOf(envelope);
  const skew = Math.abs(now - Date.parse(sent)) / 1000;
  if (!(skew <= window)) {
    throw new OisError(
      'OIS_ERR_ENVELOPE_STALE',
      `${envelope.sentAt ? 'sentAt' : 'createdAt'} ${sent} is ${Math.round(skew)} s from this daemon's clock (window ±${window} s)`,
    );
  }
  if (envelope.sentAt !== undefined && Date.parse(envelope.createdAt) > Date.parse(envelope.sentAt)) {
    throw new OisError(
      'OIS_ERR_ENVELOPE_INVALID',
      `createdAt ${envelope.createdAt} is after sentAt ${envelope.sentAt}`,
    );
  }
  const maxAgeMs = deps.seen.windowMs - window * 1000;
  const age = now - Date.parse(envelope.createdAt);
  if (age > maxAgeMs) {
    throw new OisError(
      'OIS_ERR_ENVELOPE_STALE',
      `createdAt ${envelope.createdAt} is ${Math.round(age / 3_600_000)} h old; this daemon remembers ids for ${Math.round(maxAgeMs / 3_600_000)} h`,
    );
  }
}

/**
 * A daemon killed between "claimed" and "delivered" left pairs unsettled: look for each id in the session
 * transcript, so that it is neither lost (released when absent) nor delivered twice (kept when present).
 */
export async function settleUnsettled(seen: SeenStore, transcript: () => Promise<string>): Promise<void> {
  const open = seen.unsettled();
  if (open.length === 0) return;
  let text: string | null = null;
  try {
    text = await transcript();
  } catch {}
  for (const { id, sender } of open) {
    if (text?.includes(id)) seen.delivered(id, sender);
    else seen.release(id, sender);
  }
}
