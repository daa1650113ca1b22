import { appendEntry, type ChatDelivery, type ChatEntry, type DeliveryOutcome } from '../chatlog/index.js';
import { type ErrorCode, isOisError, OisError } from '../errors.js';
import type { Agent, Registry } from '../registry/index.js';
import { findAgent, requireAgent } from '../registry/index.js';
import type { TeamStore } from '../team/index.js';
import { MAX_GATEWAY_BODY_BYTES, type SendResult, sessionsSend } from '../transport/index.js';
import { postEnvelope } from './client.js';
import { isTransient, type OutboxPayload, retryAfterOf } from './deliver.js';
import { MAX_ENVELOPE_BODY_BYTES, signEnvelope } from './envelope.js';
import type { Identity } from './identity.js';
import { checkBody, deliveredText, newMessageId } from './message.js';
import type { Outbox } from './outbox.js';

const DEFAULT_SESSION_KEY = 'agent:main:main';

export interface FederationRef {
  url: string;
  publicKey: string;
}

/** How one recipient is reached: through its daemon (signed envelope) or its gateway (token). */
export type Recipient =
  | { mode: 'federated'; agent: Agent; federation: FederationRef; token: string | null }
  | { mode: 'direct'; agent: Agent & { gateway: NonNullable<Agent['gateway']> }; token: string };

/** The agent's published daemon, if it has one. */
export function federationOf(agent: Agent): FederationRef | null {
  const f = agent.extra.federation as { url?: unknown; publicKey?: unknown } | undefined;
  return typeof f?.url === 'string' && typeof f.publicKey === 'string'
    ? { url: f.url, publicKey: f.publicKey }
    : null;
}

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
): Promise<Recipient[]> {
  const me = findAgent(registry, self);
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
      if (a.status !== 'active') {
        throw new OisError('OIS_ERR_AGENT_INACTIVE', `${a.name} is ${a.status}, not active`, {
          hint:
            a.status === 'pending'
              ? 'an admin approves new members first'
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
  const tokens = await Promise.all(agents.map(tokenOf));
  const missing = agents.filter((a, i) => tokens[i] === null && !(federated && federationOf(a)));
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
  via?: 'federated' | 'direct';
  outcome: DeliveryOutcome;
  seconds: number;
  attempts?: number;
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
  /** Signs envelopes for federated recipients. */
  identity?: Identity;
  /**
   * For a peer that cannot be reached: its gateway URL at its current ZeroTier address, when that changed
   * (and the registry was updated), else null.
   */
  relocate?: (agent: Agent) => Promise<string | null>;
  /** Where undeliverable messages wait; without it (or with queue false) a failure is final. */
  outbox?: Outbox;
  queue?: boolean;
  signal?: AbortSignal;
  now?: () => Date;
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

/**
 * Sends one message to its recipients concurrently (direct delivery into each peer gateway), then appends
 * the exchange to today's chat log: one entry for the message with every outcome, and one per reply.
 * Throws only for bad input (before anything is sent); delivery failures are in the report.
 */
export async function sendMessage(input: SendInput): Promise<SendReport> {
  const body = checkBody(input.body.replace(/\r\n/g, '\n'));
  const now = input.now ?? (() => new Date());
  const at = now();
  const id = newMessageId(at.getTime());
  const wait = input.waitSeconds ?? 0;
  const texts = input.recipients.map((r) =>
    deliveredText({ from: input.from, to: r.agent.name, id, at }, body),
  );
  if (
    input.recipients.some((r) => r.mode === 'federated') &&
    Buffer.byteLength(body) > MAX_ENVELOPE_BODY_BYTES
  ) {
    throw new OisError(
      'OIS_ERR_MESSAGE_TOO_LARGE',
      `the message is over ${MAX_ENVELOPE_BODY_BYTES} bytes, the most an envelope carries`,
      {
        hint: 'put large content in the shared/ folder of the team and send its name',
      },
    );
  }
  input.recipients.forEach((r, i) => {
    const bytes = payloadBytes(r, texts[i]!, wait, input.transport.callerSessionKey);
    if (bytes > MAX_GATEWAY_BODY_BYTES) {
      throw new OisError(
        'OIS_ERR_MESSAGE_TOO_LARGE',
        `the message is ${bytes} bytes as sent; a gateway takes at most ${MAX_GATEWAY_BODY_BYTES}`,
        {
          hint: 'put large content in the shared/ folder of the team and send its name',
          details: { bytes, limit: MAX_GATEWAY_BODY_BYTES },
        },
      );
    }
  });

  const settings = {
    connectTimeoutMs: input.transport.connectTimeoutMs,
    timeoutMs: input.transport.timeoutMs,
    retries: input.transport.retries,
    ...(input.transport.minRetryDelayMs === undefined
      ? {}
      : { minRetryDelayMs: input.transport.minRetryDelayMs }),
    ...(input.signal ? { signal: input.signal } : {}),
  };
  // A lease longer than one whole attempt, so the daemon never takes over a message ois send still sends.
  const leaseMs =
    (input.transport.connectTimeoutMs + input.transport.timeoutMs) * (input.transport.retries + 2) + 5000;

  const deliveries = await Promise.all(
    input.recipients.map(async (r, i): Promise<DeliveryReport> => {
      const started = performance.now();
      const took = () => round((performance.now() - started) / 1000);
      const federated = r.mode === 'federated' && wait === 0;
      let payload: OutboxPayload | null = null;
      if (federated) {
        if (!input.identity) {
          const error = new OisError('OIS_ERR_IDENTITY_MISSING', 'this instance has no signing key', {
            hint: 'run ois init',
          });
          return { to: r.agent.name, outcome: 'failed', seconds: 0, error };
        }
        const envelope = signEnvelope(
          { v: 1, id, from: input.from, to: r.agent.name, createdAt: at.toISOString(), body },
          input.identity.privateKey,
        );
        payload = { mode: 'federated', url: r.federation.url, envelope };
      } else if (wait === 0 && r.agent.gateway) {
        payload = {
          mode: 'direct',
          peer: r.agent.name,
          url: r.agent.gateway.url,
          sessionKey: r.agent.gateway.sessionKey,
          text: texts[i]!,
        };
      }
      // Durable first: the message is in the outbox before anything goes out, so a crash or a peer that is
      // down never loses it. Waited sends are not queued: their caller waits for the reply now.
      const outbox = input.queue && payload ? input.outbox : undefined;
      const key = `${id}.${r.agent.id}`;
      if (outbox && payload) {
        const m = outbox.enqueue(
          { id: key, peer: r.agent.name, payload: JSON.stringify(payload), mode: payload.mode },
          { claim: true, leaseMs },
        );
        if (m.state === 'queued') {
          return {
            to: r.agent.name,
            outcome: 'queued',
            seconds: 0,
            note: `behind earlier messages to ${r.agent.name}`,
          };
        }
      }
      try {
        let via: 'federated' | 'direct' = federated ? 'federated' : 'direct';
        let result: SendResult | null = null;
        const direct = async (url?: string) =>
          sessionsSend(url ? { ...directTarget(r), url } : directTarget(r), {
            message: texts[i]!,
            waitSeconds: wait,
            callerSessionKey: input.transport.callerSessionKey,
            messageId: id,
            ...settings,
          });
        try {
          if (payload?.mode === 'federated') await postEnvelope(payload.url, payload.envelope, settings);
          else result = await direct();
        } catch (err) {
          if (!isOisError(err, 'OIS_ERR_PEER_UNREACHABLE')) throw err;
          if (federated && r.token !== null && r.agent.gateway) {
            // The peer's daemon is down but we hold its gateway token: direct delivery still reaches it.
            via = 'direct';
            result = await direct();
          } else if (!federated && input.relocate) {
            // Its ZeroTier address may have changed: ask the network where the node is now.
            const moved = await input.relocate(r.agent).catch(() => null);
            if (!moved) throw err;
            result = await direct(moved);
          } else throw err;
        }
        outbox?.markDelivered(key);
        if (result === null) return { to: r.agent.name, outcome: 'delivered', seconds: took(), via };
        return { to: r.agent.name, ...fromResult(result), via };
      } catch (err) {
        const error = isOisError(err)
          ? err
          : new OisError('OIS_ERR_INTERNAL', `unexpected error: ${(err as Error).message}`, { cause: err });
        if (outbox && isTransient(error)) {
          const retryAfterMs = retryAfterOf(error);
          const m = outbox.markFailed(
            key,
            `${error.code}: ${error.message}`,
            retryAfterMs === undefined ? {} : { retryAfterMs },
          );
          if (m?.state === 'queued')
            return {
              to: r.agent.name,
              outcome: 'queued',
              seconds: took(),
              note: error.message,
              code: error.code,
            };
        } else outbox?.markFailed(key, `${error.code}: ${error.message}`, { permanent: true });
        return {
          to: r.agent.name,
          outcome: error.code === 'OIS_ERR_DELIVERY_UNKNOWN' ? 'unknown' : 'failed',
          seconds: took(),
          error,
        };
      }
    }),
  );

  const entries: ChatEntry[] = [
    {
      id,
      at: at.toISOString(),
      from: input.from,
      to: input.recipients.map((r) => r.agent.name),
      kind: 'message',
      body,
      deliveries: deliveries.map(toChatDelivery),
    },
  ];
  for (const d of deliveries) {
    if (d.reply === undefined) continue;
    const replyAt = now();
    entries.push({
      id: newMessageId(replyAt.getTime()),
      at: replyAt.toISOString(),
      from: d.to,
      to: [input.from],
      kind: 'reply',
      replyTo: id,
      body: d.reply.trim() === '' ? '(empty reply)' : d.reply,
      deliveries: [{ to: input.from, outcome: 'delivered' }],
    });
  }
  let log: SendReport['log'];
  try {
    let path = '';
    for (const entry of entries) path = (await appendEntry(input.store, entry)).path;
    log = { path };
  } catch (err) {
    log = {
      error: isOisError(err) ? err : new OisError('OIS_ERR_STORAGE', (err as Error).message, { cause: err }),
    };
  }
  return { id, at: at.toISOString(), from: input.from, deliveries, log };
}

/** A waited send goes to the gateway even for a peer with a daemon (federation v1 does not carry replies). */
function directTarget(r: Recipient): { url: string; token: string; sessionKey: string } {
  if (r.mode === 'direct')
    return { url: r.agent.gateway.url, token: r.token, sessionKey: r.agent.gateway.sessionKey };
  if (!r.agent.gateway || r.token === null) {
    throw new OisError('OIS_ERR_TOKEN_MISSING', `a waited send to ${r.agent.name} needs its gateway token`, {
      hint: `federated messages carry no reply yet: send without --wait, or ois secrets set ${r.agent.id} --token-stdin`,
    });
  }
  return { url: r.agent.gateway.url, token: r.token, sessionKey: r.agent.gateway.sessionKey };
}

function fromResult(result: SendResult): Omit<DeliveryReport, 'to'> {
  const base = { seconds: round(result.seconds), attempts: result.attempts };
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

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
