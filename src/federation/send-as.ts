import type { NoticeRef } from '../chatlog/index.js';
import { type Env, type InstanceConfig, resolveToken } from '../config/index.js';
import { adoptApprovedKey, loadIdentity, loadTeamView } from '../membership/index.js';
import type { Agent, Registry } from '../registry/index.js';
import { findAgent } from '../registry/index.js';
import type { TeamStore } from '../team/index.js';
import { type Courier, type Drained, drainPeer, type Moved, storeInbox, type Thread } from './dispatch.js';
import { Outbox } from './outbox.js';
import { planRecipients, type SendReport, sendMessage } from './send.js';

export interface SendAsInput {
  config: InstanceConfig & { name: string };
  env: Env;
  store: TeamStore;
  /** The current registry (the daemon passes its cache; the CLI reads the file once). */
  registry: () => Promise<Registry>;
  to: { names: string[] } | { all: true };
  body: string;
  /** Seconds to wait for each reply; 0: do not wait. Waited sends go straight to the gateway, unqueued. */
  waitSeconds?: number;
  /** False (`--no-queue`): a peer that cannot be reached now fails at once. */
  queue: boolean;
  /** Whether a daemon sends this instance's outbox; without one, what waits for a recipient goes out now. */
  daemonRuns: boolean;
  /** The outbox to use (the daemon's own); otherwise the instance's is opened for this send. */
  outbox?: Outbox;
  /** Warnings for the user (a skipped agent, a peer that moved on the ZeroTier network, a recovered outbox). */
  warn?: (message: string, hint?: string) => void;
  signal?: AbortSignal;
  /** A team notice (specs/membership.md): to no names, it is only logged. */
  notice?: NoticeRef;
  /** A reply, a task or a task update, and its thread. */
  thread?: Thread;
  /** The message id to use (a task is sent under its own id). */
  id?: string;
}

/**
 * The one way to send a message as this instance: `ois send`, the viewer's compose and `ois demo` all come
 * here. Plans the recipients (every bad input fails before anything is sent), then delivers through the
 * outbox (durable first) and logs the exchange.
 */
export async function sendAs(input: SendAsInput): Promise<SendReport> {
  const { config, env, store } = input;
  const warn = input.warn ?? (() => {});
  const wait = input.waitSeconds ?? 0;
  const registry = await input.registry();
  const identity = await currentIdentity(config.home, registry, config.name);
  const recipients = await planRecipients(
    registry,
    config.name,
    input.to,
    async (agent) => (await resolveToken(config.home, env, agent.name))?.token ?? null,
    (agent, why) => warn(`skipping ${agent.name}: ${why}`),
    identity !== null,
    input.notice,
  );
  const queue = input.queue && wait === 0;
  const outbox = queue ? (input.outbox ?? Outbox.open(config.home)) : undefined;
  if (outbox && !input.outbox && outbox.recovered) warn(outbox.recovered.message, outbox.recovered.hint);
  try {
    return await sendMessage({
      store,
      from: config.name,
      recipients,
      body: input.body,
      waitSeconds: wait,
      home: config.home,
      env,
      registry: input.registry,
      transport: {
        connectTimeoutMs: config.send.connectTimeoutMs,
        timeoutMs: config.send.timeoutMs,
        retries: config.send.retries,
        callerSessionKey: config.send.waitSessionKey,
      },
      relocate: (agent) => relocate(agent, { store, home: config.home, env, warn }),
      ...(outbox ? { outbox, queue: true, drainNow: !input.daemonRuns } : {}),
      ...(identity ? { identity } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
      ...(input.notice ? { notice: input.notice } : {}),
      ...(input.thread ? { thread: input.thread } : {}),
      ...(input.id ? { id: input.id } : {}),
    });
  } finally {
    if (outbox && !input.outbox) outbox.close();
  }
}

/**
 * This instance's signing key: the one a rotation waited for, once the team's records approved it (the
 * admin's approval published it in AGENTS.md), else the current one.
 */
export async function currentIdentity(home: string, registry: Registry, self: string) {
  const key = (findAgent(registry, self)?.extra.federation as { publicKey?: unknown } | undefined)?.publicKey;
  return (await adoptApprovedKey(home, typeof key === 'string' ? key : null)) ?? (await loadIdentity(home));
}

/** Asks the team's ZeroTier network where a peer that cannot be reached is now (loaded only then). */
export async function relocate(
  agent: Agent,
  options: { store: TeamStore; home: string; env: Env; warn?: (message: string) => void },
): Promise<Moved | null> {
  const { relocateAgent } = await import('../zerotier/index.js');
  const moved = await relocateAgent(agent, options);
  if (moved) {
    options.warn?.(
      `${agent.name} moved on the ZeroTier network (${moved.recordedIp ?? '?'} → ${moved.currentIp}); AGENTS.md updated`,
    );
  }
  return moved;
}

/**
 * The courier of this instance: its identity, its peers' tokens, the ZeroTier lookup. `retries` is per path
 * (the daemon's outbox sender makes one try per round and lets the outbox back off).
 */
export async function instanceCourier(
  config: InstanceConfig & { name: string },
  env: Env,
  store: TeamStore,
  registry: () => Promise<Registry>,
  options: { retries?: number; warn?: (message: string) => void; signal?: AbortSignal } = {},
): Promise<Courier> {
  return {
    home: config.home,
    env,
    identity: await loadIdentity(config.home),
    registry,
    settings: {
      connectTimeoutMs: config.send.connectTimeoutMs,
      timeoutMs: config.send.timeoutMs,
      retries: options.retries ?? config.send.retries,
      ...(options.signal ? { signal: options.signal } : {}),
    },
    relocate: (agent) =>
      relocate(agent, { store, home: config.home, env, ...(options.warn ? { warn: options.warn } : {}) }),
    ...(store.deliver ? { inbox: storeInbox(store)! } : {}),
  };
}

/**
 * Sends what waits for `peer` now, in order, up to and including `until`, on an instance that runs no daemon
 * (`ois outbox retry`). Returns each attempt by outbox id.
 */
export async function sendQueuedNow(
  config: InstanceConfig & { name: string },
  env: Env,
  store: TeamStore,
  outbox: Outbox,
  peer: string,
  until: string,
  options: { warn?: (message: string) => void; signal?: AbortSignal } = {},
): Promise<Map<string, Drained>> {
  let cached: Promise<Registry> | null = null;
  const courier = await instanceCourier(
    config,
    env,
    store,
    () => (cached ??= loadTeamView(store, config.home).then((v) => v.registry)),
    options,
  );
  return drainPeer(outbox, peer, courier, { store, self: config.name, until });
}
